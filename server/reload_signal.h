#pragma once

// SIGHUP for reitunneld: re-reads the configuration exactly as at start (the
// same command line, the --config file as it is now) and hands it to
// Server::Reload. A config that does not load, or whose TLS or token files
// do not, is rejected with one error line and the running settings stay.
// Everything runs on the control executor.

#include <memory>
#include <string>
#include <vector>

#include "asio/io_context.hpp"
#include "asio/signal_set.hpp"

namespace reitunnel::server {

class Server;

class ReloadOnSighup {
 public:
  ReloadOnSighup(asio::io_context& control, std::vector<std::string> args, Server& server);
  // Installs the handler (until Stop()); SIGHUP no longer ends the process.
  void Start();
  // Lets go of SIGHUP, leaving it ignored: the process is on its way out.
  void Stop();
  // One reload, as SIGHUP does it; true if it applied.
  bool ReloadNow();

 private:
  void Wait();

  asio::signal_set signals_;
  std::vector<std::string> args_;
  Server& server_;
};

}  // namespace reitunnel::server
