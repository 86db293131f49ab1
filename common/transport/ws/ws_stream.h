#pragma once

// transport::Stream over an RFC 6455 WebSocket connection whose opening
// handshake is done (see ws_handshake.h for WsConnect/WsAccept).
//
// The link is a byte stream: each WriteAll goes out as binary messages of
// at most max_send_frame bytes (one unfragmented frame each); ReadSome
// returns the payload of the peer's binary messages in order, fragmented or
// not, as it arrives. Pings are answered, text messages are refused (close
// 1003), frames against the RFC close the connection with 1002 (1007 for
// bad UTF-8 in a close reason, 1009 past the size limits).
//
// Half-close maps onto the close handshake: ShutdownSend() sends Close(1000)
// and nothing after it; a received Close(1000) or Close without a code is an
// orderly EOF (ReadSome returns 0) while our direction stays open, and our
// Close answers it when we ShutdownSend() in turn (RFC 6455 5.5.1 lets an
// endpoint finish what it is sending first). Once both Close frames went
// through, the inner stream's sending side is shut down too.
//
// Control frames we must send from the read side (pong, close after an
// error) are queued and written by whoever holds the write turn, never by
// the reader waiting on a write: a reader never blocks on its own peer's
// reading, so two ends writing bulk data at once cannot deadlock.
//
// Lifetime: always owned by a std::shared_ptr (Create()); background sends
// keep it alive until they finish.

#include <chrono>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "asio/steady_timer.hpp"
#include "common/transport/stream.h"
#include "common/transport/ws/decoder.h"
#include "common/transport/ws/frame.h"

namespace reitunnel::transport {

struct WsStreamOptions {
  // Largest frame we send; a WriteAll larger than this becomes several
  // messages.
  size_t max_send_frame = 64 * 1024;
  ws::DecoderLimits limits;
  // When > 0, a Ping goes out whenever nothing was sent for this long, so
  // intermediaries with idle timeouts (nginx proxy_read_timeout: 60 s) keep
  // an idle link open. Pongs are not awaited: dead peers are found by the
  // protocol above.
  std::chrono::milliseconds ping_interval{0};
  // Bound on sending our Close frame after a protocol error before the
  // inner stream is closed.
  std::chrono::milliseconds error_close_timeout{2000};
};

class WsStream final : public Stream, public std::enable_shared_from_this<WsStream> {
 public:
  // `initial_input`: bytes read past the handshake (already frames).
  static std::shared_ptr<WsStream> Create(std::shared_ptr<Stream> inner, ws::Role role,
                                          WsStreamOptions options, std::string initial_input);
  ~WsStream() override;
  WsStream(const WsStream&) = delete;
  WsStream& operator=(const WsStream&) = delete;

  asio::awaitable<size_t> ReadSome(asio::mutable_buffer buf) override;
  asio::awaitable<void> WriteAll(asio::const_buffer buf) override;
  void ShutdownSend() override;
  void Close() override;
  bool is_open() const override { return !closed_ && inner_->is_open(); }
  const std::string& peer() const override { return inner_->peer(); }
  // "wss" over TLS, "ws" otherwise.
  const char* kind() const override { return kind_; }
  asio::any_io_executor get_executor() override { return inner_->get_executor(); }
  int splice_fd() const override { return -1; }
  bool has_buffered_input() const override { return rpos_ < rend_ || inner_->has_buffered_input(); }

  // Starts the idle ping timer (options.ping_interval); WsConnect and
  // WsAccept call it.
  void StartKeepalive();

  // Set by WsConnect/WsAccept: the negotiated subprotocol, and on the server
  // the request's X-Forwarded-For (untrusted, for logs only).
  const std::string& subprotocol() const { return subprotocol_; }
  const std::string& forwarded_for() const { return forwarded_for_; }
  void set_handshake_info(std::string subprotocol, std::string forwarded_for) {
    subprotocol_ = std::move(subprotocol);
    forwarded_for_ = std::move(forwarded_for);
  }
  // The status code of the peer's Close frame once one arrived (1005 when
  // it had none).
  std::optional<uint16_t> peer_close_code() const { return peer_close_code_; }

 private:
  struct Control {
    ws::Opcode op;
    std::string payload;
  };
  class WriteTurn;

  WsStream(std::shared_ptr<Stream> inner, ws::Role role, WsStreamOptions options,
           std::string initial_input);

  asio::awaitable<void> AcquireWriteTurn();
  void ReleaseWriteTurn();
  // Queues a control frame and makes sure someone writes it.
  void QueueControl(ws::Opcode op, std::string payload);
  // With the write turn held: writes every queued control frame.
  asio::awaitable<void> FlushControlLocked();
  asio::awaitable<void> FlushControl();
  asio::awaitable<void> WriteFrameLocked(ws::Opcode op, const uint8_t* payload, size_t size);
  std::optional<ws::MaskKey> NextMask();

  // Read-side outcomes; the [[noreturn]] ones throw std::system_error.
  size_t OnPeerClose(const ws::FrameDecoder::Event& ev);
  [[noreturn]] void FailProtocol(uint16_t code, const std::string& why);
  [[noreturn]] void FailEof();
  [[noreturn]] void Rethrow() const;
  void SendCloseThenDrop(uint16_t code, std::string reason);

  static asio::awaitable<void> KeepaliveLoop(std::weak_ptr<WsStream> weak,
                                             std::shared_ptr<asio::steady_timer> timer,
                                             std::chrono::milliseconds interval);

  std::shared_ptr<Stream> inner_;
  const ws::Role role_;
  const WsStreamOptions options_;
  const char* kind_;
  ws::FrameDecoder decoder_;

  std::vector<uint8_t> rbuf_;
  size_t rpos_ = 0;
  size_t rend_ = 0;
  std::vector<uint8_t> sendbuf_;

  bool write_busy_ = false;
  asio::steady_timer write_turn_cv_;
  std::deque<Control> control_queue_;
  bool close_queued_ = false;   // our Close is queued or sent: no more data
  bool close_written_ = false;  // our Close is on the wire
  bool close_received_ = false;
  bool read_eof_ = false;
  bool closed_ = false;
  std::optional<uint16_t> peer_close_code_;
  // Set once the stream failed; later calls rethrow it.
  std::optional<std::system_error> failure_;

  std::vector<uint8_t> mask_pool_;
  size_t mask_pos_ = 0;

  std::chrono::steady_clock::time_point last_send_;
  std::shared_ptr<asio::steady_timer> ping_timer_;

  std::string subprotocol_;
  std::string forwarded_for_;
};

}  // namespace reitunnel::transport
