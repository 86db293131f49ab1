#pragma once

namespace reitunnel {

// Set by CMake from the project version.
inline constexpr const char* kVersion = REITUNNEL_VERSION;

}  // namespace reitunnel
