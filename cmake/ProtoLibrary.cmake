# reitunnel_proto_library(NAME <target> ROOT <import root> PROTOS <files...>
#                         [GRPC] [DEPS <targets...>] [IMPORT_DIRS <dirs...>])
# Generates C++ (and gRPC stubs with GRPC) for PROTOS, given relative to ROOT,
# into the build tree and wraps them in a static library.
function(reitunnel_proto_library)
  cmake_parse_arguments(P "GRPC" "NAME;ROOT" "PROTOS;DEPS;IMPORT_DIRS" ${ARGN})
  set(out_dir ${CMAKE_BINARY_DIR}/gen)
  set(srcs)
  set(include_flags -I${P_ROOT})
  foreach(d ${P_IMPORT_DIRS})
    list(APPEND include_flags -I${d})
  endforeach()
  foreach(proto ${P_PROTOS})
    string(REGEX REPLACE "\\.proto$" "" base ${proto})
    set(outs ${out_dir}/${base}.pb.cc ${out_dir}/${base}.pb.h)
    set(grpc_args)
    if(P_GRPC)
      list(APPEND outs ${out_dir}/${base}.grpc.pb.cc ${out_dir}/${base}.grpc.pb.h)
      set(grpc_args --grpc_out=${out_dir}
          --plugin=protoc-gen-grpc=$<TARGET_FILE:gRPC::grpc_cpp_plugin>)
    endif()
    add_custom_command(
      OUTPUT ${outs}
      COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}
      COMMAND protobuf::protoc ${include_flags} --cpp_out=${out_dir} ${grpc_args}
              ${P_ROOT}/${proto}
      DEPENDS ${P_ROOT}/${proto} protobuf::protoc
      COMMENT "protoc ${proto}"
      VERBATIM)
    list(FILTER outs INCLUDE REGEX "\\.cc$")
    list(APPEND srcs ${outs})
  endforeach()
  add_library(${P_NAME} STATIC ${srcs})
  target_include_directories(${P_NAME} SYSTEM PUBLIC $<BUILD_INTERFACE:${out_dir}>
                             $<INSTALL_INTERFACE:include>)
  target_link_libraries(${P_NAME} PUBLIC protobuf::libprotobuf ${P_DEPS})
  if(P_GRPC)
    target_link_libraries(${P_NAME} PUBLIC gRPC::grpc++)
  endif()
  # Generated code is not ours to keep warning-free.
  target_compile_options(${P_NAME} PRIVATE -w)
endfunction()
