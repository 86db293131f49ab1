# cmake -DCOMPILE_COMMANDS=<compile_commands.json> -DUNITS=<a.cc;b.cc> -DOUT_DIR=<dir>
#       [-DLAUNCHER=ccache] -P release_warnings.cmake
#
# Compiles each unit with its command from the real build, the optimization,
# debug and sanitizer flags replaced by a stock Release build's (-O3 -DNDEBUG)
# and warnings as errors. Fails with the compiler's output on any warning.
if(NOT EXISTS "${COMPILE_COMMANDS}")
  message(FATAL_ERROR "${COMPILE_COMMANDS} not found (configure with a Ninja or Makefile generator)")
endif()
file(MAKE_DIRECTORY "${OUT_DIR}")
file(READ "${COMPILE_COMMANDS}" json)
string(JSON count LENGTH "${json}")
math(EXPR last "${count} - 1")

# file -> index, in one pass.
foreach(i RANGE ${last})
  string(JSON file GET "${json}" ${i} file)
  set(index_${file} ${i})
endforeach()

foreach(unit IN LISTS UNITS)
  if(NOT DEFINED index_${unit})
    message(FATAL_ERROR "${unit} is not in ${COMPILE_COMMANDS}: renamed? update tests/build/CMakeLists.txt")
  endif()
  string(JSON command GET "${json}" ${index_${unit}} command)
  string(JSON directory GET "${json}" ${index_${unit}} directory)
  separate_arguments(argv UNIX_COMMAND "${command}")
  set(release_argv)
  set(skip_next FALSE)
  foreach(arg IN LISTS argv)
    if(skip_next)
      set(skip_next FALSE)
    elseif(arg STREQUAL "-o" OR arg STREQUAL "-MF" OR arg STREQUAL "-MT")
      set(skip_next TRUE)
    elseif(arg MATCHES "^-(O.*|g.*|fsanitize.*|fno-sanitize.*|fno-omit-frame-pointer|MD|Werror.*|DNDEBUG)$")
      # replaced below
    else()
      list(APPEND release_argv "${arg}")
    endif()
  endforeach()
  get_filename_component(name "${unit}" NAME)
  list(APPEND release_argv -O3 -DNDEBUG -Werror -o "${OUT_DIR}/${name}.o")
  if(LAUNCHER)
    list(PREPEND release_argv "${LAUNCHER}")
  endif()
  message(STATUS "Release compile: ${unit}")
  execute_process(COMMAND ${release_argv}
                  WORKING_DIRECTORY "${directory}"
                  RESULT_VARIABLE rc
                  OUTPUT_VARIABLE out
                  ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    list(JOIN release_argv " " shown)
    message(FATAL_ERROR "Release flags break ${unit}:\n${shown}\n${out}")
  endif()
endforeach()
