# reitunnel_install_guard(SANITIZED <bool> FUZZ <bool> [THREAD <bool>])
#
# Makes `cmake --install` refuse a build configured for testing: sanitizer
# (or fuzzing) instrumentation makes binaries and libraries several times
# slower and larger, and they need the sanitizer runtime at link and run time.
# The refusal runs before any other install rule, for every component.
# Setting REITUNNEL_INSTALL_SANITIZED=1 in the environment of the install step
# lets it through (the SDK's own install test uses that).
function(reitunnel_install_guard)
  cmake_parse_arguments(G "" "SANITIZED;FUZZ;THREAD" "" ${ARGN})
  if(NOT G_SANITIZED AND NOT G_FUZZ AND NOT G_THREAD)
    return()
  endif()
  if(G_FUZZ)
    set(what "REITUNNEL_FUZZ=ON (libFuzzer, AddressSanitizer and UBSan)")
  elseif(G_THREAD)
    set(what "REITUNNEL_TSAN=ON (ThreadSanitizer)")
  else()
    set(what "REITUNNEL_SANITIZE=ON (AddressSanitizer and UBSan)")
  endif()
  install(CODE "
if(NOT \"\$ENV{REITUNNEL_INSTALL_SANITIZED}\" STREQUAL \"1\")
  message(FATAL_ERROR \"refusing to install: this build was configured with ${what}, \"
    \"which is for tests, not for use. Configure a build without it and install that:\\n\"
    \"  cmake -S ${PROJECT_SOURCE_DIR} -B build-release -G Ninja -DCMAKE_BUILD_TYPE=Release\\n\"
    \"  cmake --build build-release && cmake --install build-release\\n\"
    \"(Set REITUNNEL_INSTALL_SANITIZED=1 to install this build anyway.)\")
endif()
" ALL_COMPONENTS)
endfunction()
