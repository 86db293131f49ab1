#include "common/net/spawn.h"

#include <system_error>

#include "common/log/log.h"

namespace reitunnel::net {

void LogCoroutineFailure(const char* what, std::exception_ptr e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::system_error& err) {
    log::Debug("task_ended", "task ended with an error",
               {{"task", what}, {"error", err.code().message()}});
  } catch (const std::exception& err) {
    log::Error("task_failed", "task failed", {{"task", what}, {"error", err.what()}});
  } catch (...) {
    log::Error("task_failed", "task failed", {{"task", what}, {"error", "unknown exception"}});
  }
}

}  // namespace reitunnel::net
