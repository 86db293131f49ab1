// quota-hook: refuses new tunnels to agents that moved too many bytes.
//
//   quota-hook --listen=127.0.0.1:7100 --quota-bytes=1000000 [--account-label=team]
//
// Accounting. Bytes (sent + received) are counted per account: the agent
// session (client_id) by default, or the value of an agent label with
// --account-label (e.g. team=blue), which survives reconnects and is shared
// by all agents of the team. Agents without the label fall back to their
// client_id.
// - Data batches give live accounting while a tunnel is open.
// - OnTunnelClose carries the tunnel's exact totals: they replace what the
//   batches counted for that tunnel, so dropped batches (sequence gaps) or a
//   batch still in flight cannot make the total drift. Batches that arrive
//   for an already closed tunnel are ignored for the same reason.
// Counts live in memory and start from zero when the hook restarts.
//
// Policy. OnTunnelOpen is denied while the account's usage is at or above the
// quota, e.g. `quota exceeded: 1048576 of 1000000 bytes used`. Tunnels
// already open are not cut (a hook cannot close them).
//
// Thread safety: batches, tunnel events and decisions arrive on different gRPC
// threads; all state is behind one mutex, held only for map updates.

#include <cstdint>
#include <deque>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "examples/common/json_line.h"
#include "reitunnel/hookd/hookd.h"

namespace hookd = reitunnel::hookd;
using hookd::examples::JsonLine;

namespace {

// Closed tunnel ids remembered to drop late batches; old ones are forgotten
// first (a batch arrives within a flush window of the close).
constexpr size_t kClosedTunnelsRemembered = 100'000;

class QuotaHook : public hookd::Hook {
 public:
  QuotaHook(uint64_t quota_bytes, std::string account_label)
      : quota_bytes_(quota_bytes), account_label_(std::move(account_label)) {}

  absl::Status OnClientConnect(const hookd::ClientConnectRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    account_of_client_[request.client_id()] = AccountFor(request.client_id(), request.metadata());
    return hookd::Allow();
  }

  void OnClientDisconnect(const hookd::ClientDisconnectRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = account_of_client_.find(request.client_id());
    if (it == account_of_client_.end()) return;
    // A per-session account can never be charged again: forget it.
    if (it->second == request.client_id()) accounts_.erase(it->second);
    account_of_client_.erase(it);
  }

  absl::Status OnTunnelOpen(const hookd::TunnelOpenRequest& request) override {
    uint64_t used = 0;
    std::string account;
    {
      std::lock_guard<std::mutex> lock(mu_);
      // The tunnel's metadata carries the labels too, which covers agents
      // that connected before this hook (re)started.
      account = AccountFor(request.client_id(), request.metadata());
      account_of_client_[request.client_id()] = account;
      auto it = accounts_.find(account);
      if (it != accounts_.end()) used = it->second.Used();
    }
    const bool deny = used >= quota_bytes_;
    JsonLine line;
    line.Str("event", "tunnel_open")
        .Str("client_id", request.client_id())
        .Str("tunnel_name", request.tunnel_name())
        .Str("account", account)
        .Num("used_bytes", used)
        .Num("quota_bytes", quota_bytes_)
        .Str("decision", deny ? "deny" : "allow")
        .Emit();
    if (deny) {
      return hookd::Deny(
          absl::StrCat("quota exceeded: ", used, " of ", quota_bytes_, " bytes used"));
    }
    return hookd::Allow();
  }

  void OnDataBatch(const hookd::DataBatch& batch) override {
    std::lock_guard<std::mutex> lock(mu_);
    for (const hookd::TunnelTraffic& t : batch.tunnels()) {
      if (closed_.contains(t.tunnel_id())) continue;
      Account& account = accounts_[AccountOfClient(t.client_id())];
      account.open_tunnels[t.tunnel_id()] += t.bytes_sent() + t.bytes_received();
    }
  }

  void OnTunnelClose(const hookd::TunnelCloseRequest& request) override {
    uint64_t used = 0;
    std::string account_name;
    {
      std::lock_guard<std::mutex> lock(mu_);
      account_name = AccountOfClient(request.client_id());
      Account& account = accounts_[account_name];
      account.open_tunnels.erase(request.tunnel_id());
      account.closed_bytes += request.bytes_sent() + request.bytes_received();
      used = account.Used();
      RememberClosed(request.tunnel_id());
    }
    JsonLine()
        .Str("event", "tunnel_close")
        .Str("client_id", request.client_id())
        .Str("tunnel_id", request.tunnel_id())
        .Str("account", account_name)
        .Num("used_bytes", used)
        .Emit();
  }

 private:
  struct Account {
    // Exact totals of closed tunnels.
    uint64_t closed_bytes = 0;
    // Batched bytes of tunnels still open, by tunnel id.
    absl::flat_hash_map<std::string, uint64_t> open_tunnels;

    uint64_t Used() const {
      uint64_t used = closed_bytes;
      for (const auto& [id, bytes] : open_tunnels) used += bytes;
      return used;
    }
  };

  std::string AccountFor(const std::string& client_id, const hookd::Metadata& metadata) const {
    if (account_label_.empty()) return client_id;
    std::optional<std::string> value = hookd::FindLabel(metadata, account_label_);
    return value.has_value() && !value->empty() ? absl::StrCat(account_label_, "=", *value)
                                                : client_id;
  }

  // Requires mu_.
  std::string AccountOfClient(const std::string& client_id) const {
    auto it = account_of_client_.find(client_id);
    return it == account_of_client_.end() ? client_id : it->second;
  }

  // Requires mu_.
  void RememberClosed(const std::string& tunnel_id) {
    if (!closed_.insert(tunnel_id).second) return;
    closed_order_.push_back(tunnel_id);
    if (closed_order_.size() > kClosedTunnelsRemembered) {
      closed_.erase(closed_order_.front());
      closed_order_.pop_front();
    }
  }

  const uint64_t quota_bytes_;
  const std::string account_label_;

  std::mutex mu_;
  absl::flat_hash_map<std::string, Account> accounts_;               // guarded by mu_
  absl::flat_hash_map<std::string, std::string> account_of_client_;  // guarded by mu_
  absl::flat_hash_set<std::string> closed_;                          // guarded by mu_
  std::deque<std::string> closed_order_;                             // guarded by mu_
};

constexpr char kUsage[] =
    "usage: quota-hook --quota-bytes=N [flags]\n"
    "  --quota-bytes=N         deny new tunnels once an account moved N bytes (sent+received)\n"
    "  --account-label=KEY     account by the agent label KEY instead of per agent session\n";

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> rest;
  absl::StatusOr<hookd::HookServerOptions> options = hookd::ParseServerFlags(argc, argv, &rest);
  if (!options.ok()) {
    std::cerr << "quota-hook: " << options.status().message() << "\n" << kUsage;
    return 2;
  }
  bool has_quota = false;
  uint64_t quota = 0;
  std::string account_label;
  for (const std::string& arg : rest) {
    if (arg == "--help" || arg == "-h") {
      std::cout << kUsage << hookd::ServerFlagsHelp();
      return 0;
    } else if (absl::StartsWith(arg, "--quota-bytes=")) {
      has_quota = absl::SimpleAtoi(arg.substr(14), &quota);
      if (!has_quota) {
        std::cerr << "quota-hook: " << arg << ": want a number of bytes\n";
        return 2;
      }
    } else if (absl::StartsWith(arg, "--account-label=")) {
      account_label = arg.substr(16);
    } else {
      std::cerr << "quota-hook: unknown argument \"" << arg << "\"\n" << kUsage;
      return 2;
    }
  }
  if (!has_quota) {
    std::cerr << "quota-hook: --quota-bytes is required\n" << kUsage;
    return 2;
  }
  options->name = "quota-hook";  // reported in Describe
  hookd::HookServer server(*options);
  server.AddHook(std::make_unique<QuotaHook>(quota, account_label));
  return hookd::ServeMain(server);
}
