#pragma once

// One bidirectional etcd stream (Watch, LeaseKeepAlive) as a gRPC callback
// reactor. It owns itself and is deleted in OnDone.
//
// Protocol with its owner (one driver object, calling from one strand):
//   - Write() may be called any number of times until Close(); writes are
//     queued (bounded) and at most one is outstanding on the wire.
//   - Close() is called exactly once; afterwards the owner never touches the
//     call again. Until then the call stays alive (the owner's hold keeps
//     OnDone back), which is what makes Write() from outside a reaction safe.
//   - The sink hears every response, the end of the read side, and finally
//     the RPC status; its functions run on gRPC threads and must not block.
// Reads are re-armed from OnReadDone, so exactly one read is outstanding.
// No lock is held while calling into gRPC: reactions may run inline at the
// end of a Start* call.

#include <cstddef>
#include <deque>
#include <memory>
#include <utility>

#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "grpcpp/client_context.h"
#include "grpcpp/support/client_callback.h"
#include "grpcpp/support/status.h"

namespace reitunnel::cluster::etcd {

// Called by a finished stream so its client can stop waiting for it.
class StreamRegistry {
 public:
  virtual void StreamFinished(grpc::ClientContext* context) = 0;

 protected:
  ~StreamRegistry() = default;
};

template <typename Request, typename Response>
class BidiCall final : public grpc::ClientBidiReactor<Request, Response> {
 public:
  struct Sink {
    absl::AnyInvocable<void(Response)> on_response;
    absl::AnyInvocable<void()> on_read_end;
    absl::AnyInvocable<void(grpc::Status)> on_done;
  };

  static constexpr size_t kMaxQueuedWrites = 16;

  BidiCall(StreamRegistry* registry, std::shared_ptr<grpc::ClientContext> context,
           size_t endpoint, Sink sink)
      : registry_(registry),
        context_(std::move(context)),
        endpoint_(endpoint),
        sink_(std::move(sink)) {}

  grpc::ClientContext* context() { return context_.get(); }
  // Index of the endpoint the stream runs on (for failover decisions).
  size_t endpoint() const { return endpoint_; }

  // Called once by the client after the stub has bound this reactor.
  void Begin() {
    this->AddHold();  // the owner's, removed by Close()
    this->StartRead(&response_);
    this->StartCall();
  }

  // Returns false when the queue is full or the stream already failed.
  bool Write(Request request) {
    const Request* start = nullptr;
    {
      absl::MutexLock lock(&mu_);
      if (write_failed_ || writes_.size() >= kMaxQueuedWrites) return false;
      writes_.push_back(std::move(request));
      if (!writing_) {
        writing_ = true;
        start = &writes_.front();
      }
    }
    if (start != nullptr) this->StartWrite(start);
    return true;
  }

  void Close() {
    context_->TryCancel();
    this->RemoveHold();
  }

 private:
  void OnReadDone(bool ok) override {
    if (!ok) {
      sink_.on_read_end();
      return;
    }
    sink_.on_response(std::move(response_));
    response_ = Response();
    this->StartRead(&response_);
  }

  void OnWriteDone(bool ok) override {
    const Request* next = nullptr;
    {
      absl::MutexLock lock(&mu_);
      writes_.pop_front();
      if (!ok) {
        write_failed_ = true;
        writes_.clear();
      }
      if (writes_.empty()) {
        writing_ = false;
      } else {
        next = &writes_.front();  // deque keeps references on push_back
      }
    }
    if (next != nullptr) this->StartWrite(next);
  }

  void OnDone(const grpc::Status& status) override {
    sink_.on_done(status);
    // The registry holds its own reference to the context; telling it is the
    // last thing done, after this object is gone.
    StreamRegistry* registry = registry_;
    grpc::ClientContext* context = context_.get();
    delete this;
    registry->StreamFinished(context);
  }

  StreamRegistry* const registry_;
  const std::shared_ptr<grpc::ClientContext> context_;
  const size_t endpoint_;
  Sink sink_;
  Response response_;

  absl::Mutex mu_;
  std::deque<Request> writes_ ABSL_GUARDED_BY(mu_);
  bool writing_ ABSL_GUARDED_BY(mu_) = false;
  bool write_failed_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace reitunnel::cluster::etcd
