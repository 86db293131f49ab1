#include "type_name.h"

#include <cstdlib>
#include <memory>

#if __has_include(<cxxabi.h>)
#include <cxxabi.h>
#define REITUNNEL_HOOKD_HAVE_CXXABI 1
#endif

namespace reitunnel::hookd::internal {

std::string TypeName(const std::type_info& type) {
#ifdef REITUNNEL_HOOKD_HAVE_CXXABI
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> demangled(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), &std::free);
  if (status == 0 && demangled != nullptr) return demangled.get();
#endif
  return type.name();
}

}  // namespace reitunnel::hookd::internal
