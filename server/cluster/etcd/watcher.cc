#include "server/cluster/etcd/watcher.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/strings/str_cat.h"
#include "asio/post.hpp"
#include "asio/steady_timer.hpp"
#include "server/cluster/etcd/errors.h"

namespace reitunnel::cluster::etcd {
namespace {

constexpr std::chrono::milliseconds kMinBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{2000};

}  // namespace

class Watcher::State : public std::enable_shared_from_this<State> {
 public:
  State(EtcdClient& client, Strand strand, std::string key, std::string range_end,
        int64_t start_revision, Callbacks callbacks)
      : client_(client),
        strand_(std::move(strand)),
        key_(std::move(key)),
        range_end_(std::move(range_end)),
        callbacks_(std::move(callbacks)),
        retry_(strand_),
        next_revision_(start_revision) {}

  int64_t next_revision() const { return next_revision_; }

  void Start() {
    stopped_ = false;
    Connect();
  }

  void Stop() {
    stopped_ = true;
    ++generation_;
    CloseStream();
    retry_.cancel();
  }

 private:
  void Connect() {
    const uint64_t generation = ++generation_;
    client_.AcquireToken([self = shared_from_this(), generation](absl::StatusOr<std::string> token) {
      asio::post(self->strand_, [self, generation, token = std::move(token)]() mutable {
        self->OnToken(generation, std::move(token));
      });
    });
  }

  void OnToken(uint64_t generation, absl::StatusOr<std::string> token) {
    if (stopped_ || generation != generation_) return;
    if (!token.ok()) {
      Report(token.status());
      ScheduleReconnect();
      return;
    }
    token_ = *std::move(token);
    auto self = shared_from_this();
    EtcdClient::WatchCall::Sink sink;
    sink.on_response = [self, generation](etcdserverpb::WatchResponse response) {
      asio::post(self->strand_, [self, generation, response = std::move(response)] {
        self->OnResponse(generation, response);
      });
    };
    sink.on_read_end = [self, generation] {
      asio::post(self->strand_, [self, generation] { self->OnReadEnd(generation); });
    };
    sink.on_done = [self, generation](grpc::Status status) {
      asio::post(self->strand_,
                 [self, generation, status = std::move(status)] { self->OnDone(generation, status); });
    };
    call_ = client_.StartWatch(token_, std::move(sink));
    if (call_ == nullptr) return;  // client shutting down
    endpoint_ = call_->endpoint();
    etcdserverpb::WatchRequest request;
    auto* create = request.mutable_create_request();
    create->set_key(key_);
    create->set_range_end(range_end_);
    create->set_start_revision(next_revision_);
    create->set_prev_kv(true);
    // Progress notifications move next_revision_ along in quiet periods, so
    // a resume after a long quiet spell does not start below a compaction.
    create->set_progress_notify(true);
    call_->Write(std::move(request));
  }

  void OnResponse(uint64_t generation, const etcdserverpb::WatchResponse& response) {
    if (stopped_ || generation != generation_) return;
    if (response.canceled()) {
      if (response.compact_revision() > 0) {
        Stop();
        if (callbacks_.on_compacted) callbacks_.on_compacted(response.compact_revision());
        return;
      }
      CloseStream();
      Report(absl::FailedPreconditionError(
          absl::StrCat("etcd Watch canceled: ",
                       response.cancel_reason().empty() ? "no reason given"
                                                        : response.cancel_reason())));
      ScheduleReconnect();
      return;
    }
    if (response.created()) {
      backoff_ = kMinBackoff;
      if (next_revision_ == 0) next_revision_ = response.header().revision() + 1;
    }
    if (response.events_size() > 0) {
      const int64_t last = response.events(response.events_size() - 1).kv().mod_revision();
      next_revision_ = std::max(next_revision_, last + 1);
      if (callbacks_.on_events) callbacks_.on_events(response);
      return;
    }
    if (!response.created()) {
      // Progress notification: every event up to header.revision was sent.
      next_revision_ = std::max(next_revision_, response.header().revision() + 1);
    }
  }

  void OnReadEnd(uint64_t generation) {
    if (stopped_ || generation != generation_) return;
    CloseStream();  // OnDone follows with the reason
  }

  void OnDone(uint64_t generation, const grpc::Status& status) {
    if (stopped_ || generation != generation_) return;
    CloseStream();
    if (IsInvalidAuthToken(status)) client_.InvalidateToken(token_);
    if (IsEndpointFailure(status)) client_.ReportEndpointFailure(endpoint_);
    Report(status.ok() ? absl::UnavailableError("etcd Watch: stream ended")
                       : FromGrpc(status, "Watch"));
    ScheduleReconnect();
  }

  void ScheduleReconnect() {
    retry_.expires_after(backoff_);
    backoff_ = std::min(backoff_ * 2, kMaxBackoff);
    retry_.async_wait([self = shared_from_this(), generation = generation_](std::error_code ec) {
      if (ec || self->stopped_ || generation != self->generation_) return;
      self->Connect();
    });
  }

  void CloseStream() {
    if (call_ != nullptr) {
      call_->Close();
      call_ = nullptr;
    }
  }

  void Report(const absl::Status& status) {
    if (callbacks_.on_stream_error) callbacks_.on_stream_error(status);
  }

  EtcdClient& client_;
  Strand strand_;
  const std::string key_;
  const std::string range_end_;
  Callbacks callbacks_;
  asio::steady_timer retry_;

  bool stopped_ = true;
  uint64_t generation_ = 0;
  EtcdClient::WatchCall* call_ = nullptr;
  size_t endpoint_ = 0;
  std::string token_;
  int64_t next_revision_;
  std::chrono::milliseconds backoff_ = kMinBackoff;
};

Watcher::Watcher(EtcdClient& client, Strand strand, std::string key, std::string range_end,
                 int64_t start_revision, Callbacks callbacks)
    : state_(std::make_shared<State>(client, std::move(strand), std::move(key),
                                     std::move(range_end), start_revision, std::move(callbacks))) {}

Watcher::~Watcher() { state_->Stop(); }

void Watcher::Start() { state_->Start(); }
void Watcher::Stop() { state_->Stop(); }
int64_t Watcher::next_revision() const { return state_->next_revision(); }

}  // namespace reitunnel::cluster::etcd
