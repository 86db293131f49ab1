// Answers a client reads on arbitrary bytes: the server's reply to a
// WebSocket upgrade and a proxy's reply to CONNECT. Only a real 101 with
// the right accept key passes; the status line quoted in errors is always
// printable and bounded.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/transport/http1/head.h"
#include "common/transport/http_proxy/connect_message.h"
#include "common/transport/ws/handshake.h"
#include "fuzz/fuzz_check.h"

namespace ws = reitunnel::transport::ws;
namespace http1 = reitunnel::transport::http1;

namespace {
constexpr const char* kKey = "dGhlIHNhbXBsZSBub25jZQ==";
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  const std::optional<size_t> end = http1::FindHeadEnd(in);
  if (!end) return 0;
  const std::string_view head = in.substr(0, *end);

  absl::StatusOr<http1::ResponseHead> r = http1::ParseResponseHead(head);
  if (r.ok()) {
    FUZZ_CHECK(r->status_line.size() <= 203);
    for (char c : r->status_line) FUZZ_CHECK(c >= 0x20 && c < 0x7f);
  }

  std::string selected;
  const absl::Status st = ws::CheckServerResponse(head, kKey, "reitunnel.v1", &selected);
  if (st.ok()) {
    FUZZ_CHECK(r.ok() && r->status == 101);
    FUZZ_CHECK(selected.empty() || selected == "reitunnel.v1");
    auto accept = http1::SingleHeader(r->headers, "sec-websocket-accept");
    FUZZ_CHECK(accept.ok() && accept->has_value() && **accept == ws::ComputeAcceptKey(kKey));
  }

  const absl::Status proxy =
      reitunnel::transport::CheckConnectResponse(head, "target:443", size % 2 == 0);
  if (proxy.ok()) FUZZ_CHECK(r.ok() && r->status >= 200 && r->status < 300);
  return 0;
}
