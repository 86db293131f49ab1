// The server's check of a WebSocket upgrade request on arbitrary bytes. An
// accepted request must carry a valid key and our exact path, and our 101
// answer to it must satisfy the client's own check; a refusal must be one of
// the statuses we answer with, with a reason and a well-formed answer.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/transport/http1/head.h"
#include "common/transport/ws/handshake.h"
#include "fuzz/fuzz_check.h"

namespace ws = reitunnel::transport::ws;
namespace http1 = reitunnel::transport::http1;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 16384) return 0;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  // The stream reader hands over exactly one complete head.
  const std::optional<size_t> end = http1::FindHeadEnd(in);
  if (!end) return 0;
  const std::string_view head = in.substr(0, *end);

  absl::StatusOr<http1::RequestHead> parsed = http1::ParseRequestHead(head);
  if (parsed.ok()) FUZZ_CHECK(parsed->headers.size() <= http1::kMaxHeaderFields);

  const ws::UpgradeCheck check = ws::CheckClientRequest(head, "/reitunnel");
  if (check.status == 101) {
    FUZZ_CHECK(parsed.ok());
    FUZZ_CHECK(check.request.path == "/reitunnel");
    FUZZ_CHECK(ws::IsValidClientKey(check.request.key));
    FUZZ_CHECK(check.request.forwarded_for.size() <= 260);
    const std::string answer = ws::BuildAcceptResponse(check.request.key, "reitunnel.v1");
    std::string selected;
    FUZZ_CHECK(ws::CheckServerResponse(answer, check.request.key, "reitunnel.v1", &selected).ok());
    FUZZ_CHECK(selected == "reitunnel.v1");
  } else {
    FUZZ_CHECK(check.status == 400 || check.status == 404 || check.status == 405 ||
               check.status == 426 || check.status == 505);
    FUZZ_CHECK(!check.error.empty());
    const std::string answer = ws::BuildErrorResponse(check.status);
    const std::optional<size_t> answer_end = http1::FindHeadEnd(answer);
    FUZZ_CHECK(answer_end.has_value());
    absl::StatusOr<http1::ResponseHead> r =
        http1::ParseResponseHead(std::string_view(answer).substr(0, *answer_end));
    FUZZ_CHECK(r.ok() && r->status == check.status);
  }
  return 0;
}
