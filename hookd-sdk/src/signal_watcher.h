#pragma once

// Turns SIGTERM/SIGINT into callbacks on an ordinary thread (the self-pipe
// trick): the handler only write()s the signal number to a pipe, which is
// async-signal-safe whichever thread the kernel picks, and a watcher thread
// blocked in read() runs the callbacks. The handlers are installed while at
// least one subscriber exists and the previous ones restored after that.

#include <csignal>
#include <functional>
#include <map>
#include <mutex>

namespace reitunnel::hookd::internal {

class SignalWatcher {
 public:
  // The process-wide instance (never destroyed: its thread outlives main).
  static SignalWatcher& Get();

  // `callback` runs on the watcher thread for every SIGTERM/SIGINT until
  // Unsubscribe. Returns the subscription id.
  int Subscribe(std::function<void(int)> callback);
  // After this returns the callback is not running and will not run again.
  void Unsubscribe(int id);

 private:
  SignalWatcher();
  void Loop();

  int read_fd_ = -1;
  std::mutex mu_;
  std::map<int, std::function<void(int)>> callbacks_;  // guarded by mu_
  int next_id_ = 1;                                    // guarded by mu_
  struct sigaction old_term_ = {};                     // guarded by mu_
  struct sigaction old_int_ = {};                      // guarded by mu_
};

}  // namespace reitunnel::hookd::internal
