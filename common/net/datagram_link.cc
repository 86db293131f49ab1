#include "common/net/datagram_link.h"

#include <cstdint>
#include <cstring>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/net/frame_io.h"
#include "common/net/framed_relay.h"

namespace reitunnel::net {

namespace {

void PutLength(char* out, uint32_t n) {
  out[0] = static_cast<char>(n >> 24);
  out[1] = static_cast<char>(n >> 16);
  out[2] = static_cast<char>(n >> 8);
  out[3] = static_cast<char>(n);
}

}  // namespace

asio::awaitable<void> WriteDatagram(BufferedStream& link, std::string_view d) {
  std::string bytes(4 + d.size(), '\0');
  PutLength(bytes.data(), static_cast<uint32_t>(d.size()));
  std::memcpy(bytes.data() + 4, d.data(), d.size());
  const asio::const_buffer buf = asio::buffer(bytes);
  co_await link.WriteAll(buf);
}

asio::awaitable<void> WriteDatagramEnd(BufferedStream& link, bool reset) {
  char bytes[4];
  PutLength(bytes, reset ? kChunkReset : kChunkEnd);
  const asio::const_buffer buf = asio::buffer(bytes, sizeof(bytes));
  co_await link.WriteAll(buf);
}

asio::awaitable<std::optional<std::string>> ReadDatagram(BufferedStream& link, bool* reset) {
  *reset = false;
  if (co_await link.Fill(4) < 4) throw std::system_error(asio::error::eof);
  const auto* p = reinterpret_cast<const unsigned char*>(link.data());
  const uint32_t n = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) |
                     uint32_t{p[3]};
  link.Consume(4);
  if (n == kChunkEnd || n == kChunkReset) {
    *reset = n == kChunkReset;
    co_return std::nullopt;
  }
  if (n > kMaxDatagram) {
    throw ProtocolError(absl::StrCat("datagram of ", n, " bytes on a UDP link (at most ",
                                     kMaxDatagram, ")"));
  }
  if (co_await link.Fill(n) < n) throw std::system_error(asio::error::eof);
  std::string d(link.data(), n);
  link.Consume(n);
  co_return d;
}

}  // namespace reitunnel::net
