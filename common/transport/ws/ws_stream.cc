#include "common/transport/ws/ws_stream.h"

#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "absl/strings/str_cat.h"
#include "asio/experimental/as_tuple.hpp"
#include "asio/this_coro.hpp"
#include "asio/use_awaitable.hpp"
#include "common/net/spawn.h"
#include "common/transport/errors/errors.h"
#include "common/transport/http1/text.h"
#include "common/transport/http1/timeout.h"

namespace reitunnel::transport {
namespace {

constexpr size_t kReadChunk = 16 * 1024;
// Mask keys are drawn from OpenSSL's CSPRNG in batches (RFC 6455 10.3 wants
// them unpredictable; one RAND_bytes call per frame would cost more than the
// frame's syscall).
constexpr size_t kMaskPoolBytes = 4096;

using asio::experimental::as_tuple;

}  // namespace

// Holds the write turn for a scope.
class WsStream::WriteTurn {
 public:
  explicit WriteTurn(WsStream* s) : s_(s) {}
  ~WriteTurn() { s_->ReleaseWriteTurn(); }
  WriteTurn(const WriteTurn&) = delete;
  WriteTurn& operator=(const WriteTurn&) = delete;

 private:
  WsStream* s_;
};

std::shared_ptr<WsStream> WsStream::Create(std::shared_ptr<Stream> inner, ws::Role role,
                                           WsStreamOptions options, std::string initial_input) {
  return std::shared_ptr<WsStream>(
      new WsStream(std::move(inner), role, options, std::move(initial_input)));
}

WsStream::WsStream(std::shared_ptr<Stream> inner, ws::Role role, WsStreamOptions options,
                   std::string initial_input)
    : inner_(std::move(inner)),
      role_(role),
      options_(options),
      kind_(std::string_view(inner_->kind()) == "tls" ? "wss" : "ws"),
      decoder_(role, options.limits),
      write_turn_cv_(inner_->get_executor(), asio::steady_timer::time_point::max()),
      last_send_(std::chrono::steady_clock::now()) {
  if (options_.max_send_frame == 0) throw std::invalid_argument("max_send_frame must be > 0");
  if (!initial_input.empty()) {
    rbuf_.assign(initial_input.begin(), initial_input.end());
    rend_ = rbuf_.size();
  }
}

WsStream::~WsStream() {
  if (ping_timer_) ping_timer_->cancel();
}

void WsStream::Rethrow() const { throw *failure_; }

// ---- reading ---------------------------------------------------------------

asio::awaitable<size_t> WsStream::ReadSome(asio::mutable_buffer buf) {
  if (buf.size() == 0) co_return 0;
  if (read_eof_) co_return 0;
  if (failure_) Rethrow();
  auto* out = static_cast<uint8_t*>(buf.data());
  for (;;) {
    while (rpos_ < rend_) {
      ws::FrameDecoder::Event ev = decoder_.Decode(rbuf_.data() + rpos_, rend_ - rpos_, buf.size());
      rpos_ += ev.consumed;
      switch (ev.kind) {
        case ws::FrameDecoder::Kind::kNeedMore:
          break;
        case ws::FrameDecoder::Kind::kData:
          std::memcpy(out, ev.data, ev.size);
          co_return ev.size;
        case ws::FrameDecoder::Kind::kPing:
          QueueControl(ws::Opcode::kPong, std::string(ev.control_payload));
          continue;
        case ws::FrameDecoder::Kind::kPong:
          continue;
        case ws::FrameDecoder::Kind::kClose:
          co_return OnPeerClose(ev);
        case ws::FrameDecoder::Kind::kError:
          FailProtocol(ev.error_code, ev.error);
      }
    }
    rpos_ = rend_ = 0;
    if (decoder_.in_data_payload()) {
      // Only payload follows: read it straight into the caller's buffer.
      const size_t want =
          static_cast<size_t>(std::min<uint64_t>(buf.size(), decoder_.data_payload_left()));
      const size_t n = co_await inner_->ReadSome(asio::buffer(out, want));
      if (n == 0) FailEof();
      ws::FrameDecoder::Event ev = decoder_.Decode(out, n, n);
      co_return ev.size;
    }
    if (rbuf_.size() < kReadChunk) rbuf_.resize(kReadChunk);
    const size_t n = co_await inner_->ReadSome(asio::buffer(rbuf_.data(), kReadChunk));
    if (n == 0) FailEof();
    rend_ = n;
  }
}

size_t WsStream::OnPeerClose(const ws::FrameDecoder::Event& ev) {
  close_received_ = true;
  peer_close_code_ = ev.close_code;
  if (ev.close_code == ws::close_code::kNormal || ev.close_code == ws::close_code::kNoStatus) {
    read_eof_ = true;
    if (close_written_) inner_->ShutdownSend();
    return 0;
  }
  std::string why =
      absl::StrCat("websocket peer closed with ", ws::DescribeCloseCode(ev.close_code));
  if (!ev.close_reason.empty())
    absl::StrAppend(&why, ": ", http1::SanitizeForLog(ev.close_reason, 125));
  failure_.emplace(make_error_code(TransportError::kPeerClosedWithError), why);
  SendCloseThenDrop(ev.close_code, "");
  Rethrow();
}

void WsStream::FailProtocol(uint16_t code, const std::string& why) {
  const TransportError e =
      code == ws::close_code::kTooBig ? TransportError::kTooLarge : TransportError::kProtocolError;
  failure_.emplace(make_error_code(e), absl::StrCat("websocket: ", why, " (closing with ",
                                                    ws::DescribeCloseCode(code), ")"));
  SendCloseThenDrop(code, why);
  Rethrow();
}

void WsStream::FailEof() {
  failure_.emplace(make_error_code(TransportError::kClosedWithoutCloseFrame),
                   "websocket: connection closed without a close frame");
  Rethrow();
}

void WsStream::SendCloseThenDrop(uint16_t code, std::string reason) {
  if (close_queued_ || closed_) {
    Close();
    return;
  }
  QueueControl(ws::Opcode::kClose, ws::EncodeClosePayload(code, reason));
  close_queued_ = true;
  auto self = shared_from_this();
  net::Spawn(
      get_executor(),
      [self]() -> asio::awaitable<void> {
        try {
          co_await http1::WithTimeout(self->FlushControl(), self->options_.error_close_timeout,
                                      "websocket close");
        } catch (const std::exception&) {
          // The peer is gone or stuck; dropping the connection is all that
          // is left to do.
        }
        self->Close();
      },
      "websocket error close");
}

// ---- writing ---------------------------------------------------------------

asio::awaitable<void> WsStream::AcquireWriteTurn() {
  while (write_busy_) {
    co_await write_turn_cv_.async_wait(as_tuple(asio::use_awaitable));
    asio::cancellation_state cs = co_await asio::this_coro::cancellation_state;
    if (cs.cancelled() != asio::cancellation_type::none) {
      throw std::system_error(asio::error::operation_aborted);
    }
  }
  write_busy_ = true;
}

void WsStream::ReleaseWriteTurn() {
  write_busy_ = false;
  write_turn_cv_.cancel();
}

std::optional<ws::MaskKey> WsStream::NextMask() {
  if (role_ == ws::Role::kServer) return std::nullopt;
  if (mask_pos_ + 4 > mask_pool_.size()) {
    mask_pool_.resize(kMaskPoolBytes);
    if (RAND_bytes(mask_pool_.data(), static_cast<int>(mask_pool_.size())) != 1) {
      throw std::runtime_error("RAND_bytes failed");
    }
    mask_pos_ = 0;
  }
  ws::MaskKey key;
  std::memcpy(key.data(), mask_pool_.data() + mask_pos_, 4);
  mask_pos_ += 4;
  return key;
}

asio::awaitable<void> WsStream::WriteFrameLocked(ws::Opcode op, const uint8_t* payload,
                                                 size_t size) {
  const std::optional<ws::MaskKey> mask = NextMask();
  if (sendbuf_.size() < ws::kMaxHeaderSize + size) sendbuf_.resize(ws::kMaxHeaderSize + size);
  const size_t h = ws::EncodeHeader(op, /*fin=*/true, size, mask, sendbuf_.data());
  if (size > 0) std::memcpy(sendbuf_.data() + h, payload, size);
  if (mask) ws::ApplyMask(sendbuf_.data() + h, size, *mask, 0);
  last_send_ = std::chrono::steady_clock::now();
  co_await inner_->WriteAll(asio::buffer(sendbuf_.data(), h + size));
}

asio::awaitable<void> WsStream::FlushControlLocked() {
  while (!control_queue_.empty()) {
    Control c = std::move(control_queue_.front());
    control_queue_.pop_front();
    co_await WriteFrameLocked(c.op, reinterpret_cast<const uint8_t*>(c.payload.data()),
                              c.payload.size());
    if (c.op == ws::Opcode::kClose) {
      close_written_ = true;
      control_queue_.clear();
      if (close_received_) inner_->ShutdownSend();
    }
  }
}

asio::awaitable<void> WsStream::FlushControl() {
  co_await AcquireWriteTurn();
  WriteTurn turn(this);
  if (closed_) co_return;
  co_await FlushControlLocked();
}

void WsStream::QueueControl(ws::Opcode op, std::string payload) {
  if (close_queued_ || closed_) return;  // nothing may follow our Close
  if (op == ws::Opcode::kPong) {
    // Answering only the latest ping is allowed (RFC 6455 5.5.3) and keeps
    // the queue bounded against a ping flood.
    for (Control& c : control_queue_) {
      if (c.op == ws::Opcode::kPong) {
        c.payload = std::move(payload);
        return;
      }
    }
  }
  if (op == ws::Opcode::kPing) {
    for (const Control& c : control_queue_) {
      if (c.op == ws::Opcode::kPing) return;
    }
  }
  control_queue_.push_back(Control{op, std::move(payload)});
  if (write_busy_) return;  // the current writer flushes before its turn ends
  auto self = shared_from_this();
  net::Spawn(
      get_executor(),
      [self]() -> asio::awaitable<void> {
        try {
          co_await self->FlushControl();
        } catch (const std::system_error&) {
          // A failed control write surfaces on the next read or write.
        }
      },
      "websocket control frame");
}

asio::awaitable<void> WsStream::WriteAll(asio::const_buffer buf) {
  const auto* p = static_cast<const uint8_t*>(buf.data());
  size_t left = buf.size();
  while (left > 0) {
    if (failure_) Rethrow();
    if (close_queued_ || closed_) {
      ThrowTransportError(TransportError::kWriteAfterClose,
                          "websocket: write after the close frame was sent");
    }
    co_await AcquireWriteTurn();
    WriteTurn turn(this);
    if (failure_) Rethrow();
    if (close_queued_ || closed_) {
      ThrowTransportError(TransportError::kWriteAfterClose,
                          "websocket: write after the close frame was sent");
    }
    const size_t n = std::min(left, options_.max_send_frame);
    co_await WriteFrameLocked(ws::Opcode::kBinary, p, n);
    p += n;
    left -= n;
    co_await FlushControlLocked();
  }
}

void WsStream::ShutdownSend() {
  if (close_queued_ || closed_) return;
  // Echo the peer's code when answering its Close (it can only be 1000 or
  // none here; errors are answered on the read side).
  QueueControl(ws::Opcode::kClose, ws::EncodeClosePayload(ws::close_code::kNormal, ""));
  close_queued_ = true;
  if (ping_timer_) ping_timer_->cancel();
}

void WsStream::Close() {
  closed_ = true;
  if (ping_timer_) ping_timer_->cancel();
  inner_->Close();
  write_turn_cv_.cancel();
}

// ---- keepalive -------------------------------------------------------------

void WsStream::StartKeepalive() {
  if (options_.ping_interval.count() <= 0 || ping_timer_) return;
  ping_timer_ = std::make_shared<asio::steady_timer>(get_executor());
  net::Spawn(get_executor(), KeepaliveLoop(weak_from_this(), ping_timer_, options_.ping_interval),
             "websocket keepalive");
}

asio::awaitable<void> WsStream::KeepaliveLoop(std::weak_ptr<WsStream> weak,
                                              std::shared_ptr<asio::steady_timer> timer,
                                              std::chrono::milliseconds interval) {
  auto next = std::chrono::steady_clock::now() + interval;
  for (;;) {
    timer->expires_at(next);
    auto [ec] = co_await timer->async_wait(as_tuple(asio::use_awaitable));
    if (ec) co_return;
    std::shared_ptr<WsStream> self = weak.lock();
    if (!self || self->closed_ || self->close_queued_ || self->failure_) co_return;
    const auto now = std::chrono::steady_clock::now();
    next = self->last_send_ + interval;
    if (next <= now) {
      self->QueueControl(ws::Opcode::kPing, "");
      next = now + interval;
    }
  }
}

}  // namespace reitunnel::transport
