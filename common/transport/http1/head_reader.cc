#include "common/transport/http1/head_reader.h"

#include <algorithm>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "asio/error.hpp"
#include "common/transport/errors/errors.h"
#include "common/transport/http1/head.h"

namespace reitunnel::transport::http1 {

asio::awaitable<HeadAndRest> ReadHead(Stream& stream, size_t max_bytes) {
  constexpr size_t kChunk = 2048;
  std::string buf;
  size_t scanned = 0;
  for (;;) {
    // Restart the search a few bytes back: the blank line may straddle reads.
    const size_t from = scanned >= 3 ? scanned - 3 : 0;
    if (std::optional<size_t> end = FindHeadEnd(std::string_view(buf).substr(from))) {
      const size_t head_len = from + *end;
      if (head_len > max_bytes) break;
      HeadAndRest out;
      out.rest = buf.substr(head_len);
      buf.resize(head_len);
      out.head = std::move(buf);
      co_return out;
    }
    scanned = buf.size();
    if (buf.size() >= max_bytes) break;
    const size_t old = buf.size();
    buf.resize(old + kChunk);
    const size_t n = co_await stream.ReadSome(asio::buffer(buf.data() + old, kChunk));
    buf.resize(old + n);
    if (n == 0) throw std::system_error(asio::error::eof, "connection closed inside an HTTP head");
  }
  ThrowTransportError(TransportError::kTooLarge,
                      absl::StrCat("HTTP head larger than ", max_bytes, " bytes"));
}

}  // namespace reitunnel::transport::http1
