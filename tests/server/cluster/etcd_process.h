#pragma once

// A real etcd (Debian's /usr/bin/etcd) for tests: one member on loopback,
// free ports, a temporary data directory, short raft timings so it is
// ready in well under a second. Killed by PID when destroyed.

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace reitunnel::cluster::testing {

struct EtcdTls {
  std::string ca_file;
  std::string cert_file;  // server certificate (SAN IP:127.0.0.1)
  std::string key_file;
  bool client_cert_auth = false;  // require client certificates signed by ca_file
};

class EtcdProcess {
 public:
  // tls == nullptr: plain http. extra_args go to etcd as they are.
  static absl::StatusOr<std::unique_ptr<EtcdProcess>> Start(
      const EtcdTls* tls = nullptr, std::vector<std::string> extra_args = {});
  ~EtcdProcess();

  // http(s)://127.0.0.1:PORT
  const std::string& url() const { return url_; }
  pid_t pid() const { return pid_; }

  // SIGKILL and reap.
  void Kill();
  // Starts again on the same ports and data (after Kill).
  absl::Status Restart();
  void Pause();   // SIGSTOP
  void Resume();  // SIGCONT

  // The last lines etcd wrote (for failure messages).
  std::string LogTail() const;

 private:
  EtcdProcess() = default;
  absl::Status Launch();
  absl::Status WaitReady();

  std::string dir_;
  std::string data_dir_;
  std::string log_file_;
  std::string url_;
  uint16_t client_port_ = 0;
  uint16_t peer_port_ = 0;
  bool tls_ = false;
  EtcdTls tls_files_;
  std::vector<std::string> extra_args_;
  pid_t pid_ = -1;
};

// Files of a throwaway CA, a server certificate for 127.0.0.1 and a client
// certificate, made with the openssl CLI in a temporary directory.
struct TestPki {
  std::string dir;
  std::string ca_cert, server_cert, server_key, client_cert, client_key;
  // Signed by a different CA: must be refused.
  std::string rogue_cert, rogue_key;
};
absl::StatusOr<TestPki> MakeTestPki();

// mkdtemp under $TMPDIR.
std::string MakeTempDir(const char* tag);
void RemoveTree(const std::string& dir);

}  // namespace reitunnel::cluster::testing
