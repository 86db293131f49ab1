#include "signal_watcher.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <thread>

namespace reitunnel::hookd::internal {
namespace {

// Written only before the handlers are first installed.
int g_write_fd = -1;

void OnSignal(int signal) {
  const int saved_errno = errno;
  const unsigned char byte = static_cast<unsigned char>(signal);
  // Non-blocking: if the pipe is somehow full, a wake-up is already pending.
  [[maybe_unused]] ssize_t n = write(g_write_fd, &byte, 1);
  errno = saved_errno;
}

}  // namespace

SignalWatcher& SignalWatcher::Get() {
  static SignalWatcher* watcher = new SignalWatcher();
  return *watcher;
}

SignalWatcher::SignalWatcher() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    std::perror("reitunnel-hookd: pipe2");
    std::abort();
  }
  fcntl(fds[1], F_SETFL, fcntl(fds[1], F_GETFL) | O_NONBLOCK);
  read_fd_ = fds[0];
  g_write_fd = fds[1];
  std::thread([this] { Loop(); }).detach();
}

int SignalWatcher::Subscribe(std::function<void(int)> callback) {
  std::lock_guard<std::mutex> lock(mu_);
  if (callbacks_.empty()) {
    struct sigaction action = {};
    action.sa_handler = OnSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &action, &old_term_);
    sigaction(SIGINT, &action, &old_int_);
  }
  const int id = next_id_++;
  callbacks_.emplace(id, std::move(callback));
  return id;
}

void SignalWatcher::Unsubscribe(int id) {
  std::lock_guard<std::mutex> lock(mu_);
  if (callbacks_.erase(id) == 0 || !callbacks_.empty()) return;
  sigaction(SIGTERM, &old_term_, nullptr);
  sigaction(SIGINT, &old_int_, nullptr);
}

void SignalWatcher::Loop() {
  for (;;) {
    unsigned char byte = 0;
    const ssize_t n = read(read_fd_, &byte, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n != 1) return;  // cannot happen: the write end is never closed
    // Callbacks run under mu_ so that Unsubscribe() returning means the
    // subscriber's callback is done and may be destroyed.
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [id, callback] : callbacks_) callback(byte);
  }
}

}  // namespace reitunnel::hookd::internal
