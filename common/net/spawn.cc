#include "common/net/spawn.h"

#include <system_error>

#include "asio/error.hpp"

#include "common/log/log.h"

namespace reitunnel::net {

void LogCoroutineFailure(const char* what, std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::system_error& err) {
    // Expected I/O endings are handled inside each task; one that escapes
    // means a task died early (a drain, an accept loop), so make it visible.
    if (err.code() == asio::error::operation_aborted) return;
    log::Warn("task_ended", "task ended with an error",
              {{"task", what}, {"error", err.code().message()}});
  } catch (const std::exception& err) {
    log::Error("task_failed", "task failed", {{"task", what}, {"error", err.what()}});
  } catch (...) {
    log::Error("task_failed", "task failed", {{"task", what}, {"error", "unknown exception"}});
  }
}

}  // namespace reitunnel::net
