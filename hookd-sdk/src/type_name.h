#pragma once

// Readable C++ type names for error messages ("MyHook", not "6MyHook").

#include <string>
#include <typeinfo>

namespace reitunnel::hookd::internal {

std::string TypeName(const std::type_info& type);

}  // namespace reitunnel::hookd::internal
