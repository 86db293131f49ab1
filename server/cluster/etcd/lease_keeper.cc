#include "server/cluster/etcd/lease_keeper.h"

#include <algorithm>
#include <deque>
#include <string>
#include <utility>

#include "asio/post.hpp"
#include "asio/steady_timer.hpp"
#include "server/cluster/etcd/errors.h"

namespace reitunnel::cluster::etcd {
namespace {

using Clock = std::chrono::steady_clock;
constexpr std::chrono::milliseconds kMinBackoff{100};
constexpr std::chrono::milliseconds kMaxBackoff{2000};

}  // namespace

class LeaseKeeper::State : public std::enable_shared_from_this<State> {
 public:
  State(EtcdClient& client, Strand strand, int64_t lease_id, std::chrono::milliseconds interval,
        Callbacks callbacks)
      : client_(client),
        strand_(std::move(strand)),
        lease_id_(lease_id),
        interval_(interval),
        callbacks_(std::move(callbacks)),
        tick_(strand_),
        retry_(strand_) {}

  int64_t lease_id() const { return lease_id_; }

  void Start() {
    stopped_ = false;
    Connect();
    Tick();
  }

  void Stop() {
    stopped_ = true;
    ++generation_;
    CloseStream();
    tick_.cancel();
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
    EtcdClient::KeepAliveCall::Sink sink;
    sink.on_response = [self, generation](etcdserverpb::LeaseKeepAliveResponse response) {
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
    call_ = client_.StartLeaseKeepAlive(token_, std::move(sink));
    if (call_ == nullptr) return;  // client shutting down
    endpoint_ = call_->endpoint();
    unanswered_.clear();
    Send();
  }

  void Tick() {
    if (stopped_) return;
    Send();
    tick_.expires_after(interval_);
    tick_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (!ec) self->Tick();
    });
  }

  void Send() {
    if (call_ == nullptr) return;
    if (unanswered_.size() >= kMaxUnanswered) {
      // etcd (or the path to it) is not answering: try a fresh stream, on
      // the next endpoint when there is one.
      CloseStream();
      client_.ReportEndpointFailure(endpoint_);
      Report(absl::UnavailableError("etcd LeaseKeepAlive: no answer, reconnecting"));
      Connect();
      return;
    }
    etcdserverpb::LeaseKeepAliveRequest request;
    request.set_id(lease_id_);
    const auto now = Clock::now();
    if (call_->Write(std::move(request))) unanswered_.push_back(now);
  }

  void OnResponse(uint64_t generation, const etcdserverpb::LeaseKeepAliveResponse& response) {
    if (stopped_ || generation != generation_) return;
    // etcd answers a stream's requests in order; an answer without a request
    // would be a protocol error, and then no time bound can be derived.
    if (unanswered_.empty()) return;
    const Clock::time_point sent_at = unanswered_.front();
    unanswered_.pop_front();
    backoff_ = kMinBackoff;
    if (response.ttl() <= 0) {
      Stop();
      if (callbacks_.on_expired) callbacks_.on_expired();
      return;
    }
    if (callbacks_.on_renewed) callbacks_.on_renewed(Renewal{response.ttl(), sent_at});
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
    Report(status.ok() ? absl::UnavailableError("etcd LeaseKeepAlive: stream ended")
                       : FromGrpc(status, "LeaseKeepAlive"));
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
    unanswered_.clear();
  }

  void Report(const absl::Status& status) {
    if (callbacks_.on_stream_error) callbacks_.on_stream_error(status);
  }

  EtcdClient& client_;
  Strand strand_;
  const int64_t lease_id_;
  const std::chrono::milliseconds interval_;
  Callbacks callbacks_;
  asio::steady_timer tick_;
  asio::steady_timer retry_;

  bool stopped_ = true;
  uint64_t generation_ = 0;  // bumped per stream; stale callbacks are dropped
  EtcdClient::KeepAliveCall* call_ = nullptr;
  size_t endpoint_ = 0;
  std::string token_;
  std::deque<Clock::time_point> unanswered_;  // send times, oldest first
  std::chrono::milliseconds backoff_ = kMinBackoff;
};

LeaseKeeper::LeaseKeeper(EtcdClient& client, Strand strand, int64_t lease_id,
                         std::chrono::milliseconds interval, Callbacks callbacks)
    : state_(std::make_shared<State>(client, std::move(strand), lease_id, interval,
                                     std::move(callbacks))) {}

LeaseKeeper::~LeaseKeeper() { state_->Stop(); }

void LeaseKeeper::Start() { state_->Start(); }
void LeaseKeeper::Stop() { state_->Stop(); }
int64_t LeaseKeeper::lease_id() const { return state_->lease_id(); }

}  // namespace reitunnel::cluster::etcd
