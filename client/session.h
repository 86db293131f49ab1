#pragma once

// State of one control session to the server, shared by the control loop
// (on the agent's control worker) and the data links (spread over every
// worker). Fields written by the control loop before links start are
// immutable afterwards; the rest is atomic or under `mu`.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "asio/any_io_executor.hpp"
#include "asio/post.hpp"
#include "asio/steady_timer.hpp"
#include "client/spare_links.h"
#include "common/net/buffered_stream.h"
#include "common/net/frame_io.h"
#include "reitunnel/config/v1/agent.pb.h"

namespace reitunnel::client {

struct Session {
  Session(asio::any_io_executor ex, uint32_t pool_size)
      : ex(ex), heartbeat(ex), spares(pool_size) {}

  // Control worker only.
  asio::any_io_executor ex;
  std::shared_ptr<net::BufferedStream> control;
  std::shared_ptr<net::FrameWriter> writer;
  asio::steady_timer heartbeat;
  std::chrono::steady_clock::time_point last_rx;
  std::chrono::milliseconds heartbeat_interval{10000};
  std::chrono::milliseconds idle_timeout{30000};
  bool fatal = false;
  std::string end_reason;
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
  // Tunnel state on this connection, by name.
  enum class TunnelState { kPending, kOpen, kRetrying, kRefused, kWaitingPort };
  std::map<std::string, TunnelState> state;
  std::map<std::string, int> retry_attempts;

  // Set before the first link opens; read-only afterwards.
  std::string replica_id;  // cluster mode; "" standalone
  std::string client_id;
  std::string session_key;
  // Data links relay visitors in turn (agreed in Welcome).
  bool framed = false;
  // The server serves http and tls tunnels ("tunnel_kinds" agreed).
  bool tunnel_kinds = false;

  SpareLinks spares;
  std::atomic<bool> closed{false};
  // Opens links up to the spare target; control worker only (links post
  // to `ex` to call it).
  std::function<void()> Refill;

  // tunnel_id -> its config; links look visitors' tunnels up here.
  std::optional<config::v1::TunnelConfig> Tunnel(const std::string& id) const {
    std::lock_guard<std::mutex> l(mu);
    auto it = by_id.find(id);
    if (it == by_id.end()) return std::nullopt;
    return it->second;
  }
  void SetTunnel(const std::string& id, const config::v1::TunnelConfig& t) {
    std::lock_guard<std::mutex> l(mu);
    by_id[id] = t;
  }
  void RemoveTunnel(const std::string& id) {
    std::lock_guard<std::mutex> l(mu);
    by_id.erase(id);
  }

  // Links register so that a session that ends (its control connection
  // lost) closes them on their workers instead of leaving them waiting.
  void TrackLink(const std::shared_ptr<net::BufferedStream>& link, asio::any_io_executor link_ex);
  void CloseLinks();

 private:
  struct LinkRef {
    std::weak_ptr<net::BufferedStream> link;
    asio::any_io_executor ex;
  };
  mutable std::mutex mu;
  std::map<std::string, config::v1::TunnelConfig> by_id;
  std::vector<LinkRef> links;
};

inline void Session::TrackLink(const std::shared_ptr<net::BufferedStream>& link,
                               asio::any_io_executor link_ex) {
  std::lock_guard<std::mutex> l(mu);
  std::erase_if(links, [](const LinkRef& r) { return r.link.expired(); });
  links.push_back({link, std::move(link_ex)});
}

inline void Session::CloseLinks() {
  std::vector<LinkRef> all;
  {
    std::lock_guard<std::mutex> l(mu);
    all.swap(links);
  }
  for (auto& r : all) {
    asio::post(r.ex, [w = r.link] {
      if (auto link = w.lock()) link->Close();
    });
  }
}

}  // namespace reitunnel::client
