# Copies one of etcd's .proto files with the gogoproto and google.api
# (grpc-gateway) options removed: they only steer Go code generation and the
# JSON gateway, and their own .proto files are not something we want to build.
#
#   cmake -DIN=<etcd .proto> -DOUT=<stripped copy> -P strip_etcd_proto.cmake
#
# The result is checked for leftovers so that a future etcd layout that these
# patterns miss fails the build loudly instead of producing odd code.

file(READ "${IN}" text)

string(REGEX REPLACE "import \"gogoproto/gogo.proto\";" "" text "${text}")
string(REGEX REPLACE "import \"google/api/annotations.proto\";" "" text "${text}")
# File options: option (gogoproto.marshaler_all) = true;
string(REGEX REPLACE "option \\(gogoproto\\.[a-z_]+\\) = [a-z]+;" "" text "${text}")
# Field options: [(gogoproto.nullable) = false, ...]
string(REGEX REPLACE "\\[\\(gogoproto\\.[^]]*\\]" "" text "${text}")
# Method options with one level of nested braces (additional_bindings { }).
string(REGEX REPLACE
       "option \\(google\\.api\\.http\\) = {([^{}]|{[^{}]*})*}[ \t\r\n]*;" "" text "${text}")

if(text MATCHES "gogoproto|google\\.api")
  message(FATAL_ERROR "${IN}: gogoproto/google.api options left after stripping")
endif()

file(WRITE "${OUT}.tmp" "${text}")
file(RENAME "${OUT}.tmp" "${OUT}")
