#include "tests/server/cluster/etcd_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "etcd/etcdserver/etcdserverpb/rpc.grpc.pb.h"
#include "grpcpp/create_channel.h"
#include "grpcpp/security/credentials.h"

namespace reitunnel::cluster::testing {
namespace {

constexpr const char* kEtcdBinary = "/usr/bin/etcd";

uint16_t FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return 0;
  }
  close(fd);
  return ntohs(addr.sin_port);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::string MakeTempDir(const char* tag) {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = absl::StrCat(base != nullptr ? base : "/tmp", "/reitunnel-", tag, "-XXXXXX");
  std::vector<char> buffer(pattern.begin(), pattern.end());
  buffer.push_back('\0');
  if (mkdtemp(buffer.data()) == nullptr) return std::string();
  return std::string(buffer.data());
}

void RemoveTree(const std::string& dir) {
  std::error_code ec;
  if (!dir.empty()) std::filesystem::remove_all(dir, ec);
}

absl::StatusOr<std::unique_ptr<EtcdProcess>> EtcdProcess::Start(
    const EtcdTls* tls, std::vector<std::string> extra_args) {
  std::unique_ptr<EtcdProcess> etcd(new EtcdProcess());
  etcd->extra_args_ = std::move(extra_args);
  etcd->dir_ = MakeTempDir("etcd");
  if (etcd->dir_.empty()) return absl::InternalError("mkdtemp failed");
  etcd->data_dir_ = etcd->dir_ + "/data";
  etcd->log_file_ = etcd->dir_ + "/etcd.log";
  if (tls != nullptr) {
    etcd->tls_ = true;
    etcd->tls_files_ = *tls;
  }
  // A port found free can be taken by someone else before etcd binds it
  // (ctest -j): try again with new ports.
  absl::Status last;
  for (int attempt = 0; attempt < 5; ++attempt) {
    etcd->client_port_ = FreeLoopbackPort();
    etcd->peer_port_ = FreeLoopbackPort();
    if (etcd->client_port_ == 0 || etcd->peer_port_ == 0 ||
        etcd->client_port_ == etcd->peer_port_) {
      continue;
    }
    etcd->url_ = absl::StrCat(etcd->tls_ ? "https" : "http", "://127.0.0.1:", etcd->client_port_);
    RemoveTree(etcd->data_dir_);
    last = etcd->Launch();
    if (last.ok()) last = etcd->WaitReady();
    if (last.ok()) return etcd;
    etcd->Kill();
  }
  return absl::InternalError(absl::StrCat("etcd did not start: ", last.message(), "\n",
                                          etcd->LogTail()));
}

EtcdProcess::~EtcdProcess() {
  Resume();
  Kill();
  RemoveTree(dir_);
}

absl::Status EtcdProcess::Launch() {
  const std::string client_url = url_;
  const std::string peer_url = absl::StrCat("http://127.0.0.1:", peer_port_);
  std::vector<std::string> args = {
      kEtcdBinary,
      "--name=n0",
      "--data-dir=" + data_dir_,
      "--listen-client-urls=" + client_url,
      "--advertise-client-urls=" + client_url,
      "--listen-peer-urls=" + peer_url,
      "--initial-advertise-peer-urls=" + peer_url,
      "--initial-cluster=n0=" + peer_url,
      // Fast election of the single member; lease TTLs down to 1 s.
      "--heartbeat-interval=10",
      "--election-timeout=100",
      "--logger=zap",
      "--log-outputs=stderr",
      "--log-level=warn",
  };
  for (const std::string& arg : extra_args_) args.push_back(arg);
  if (tls_) {
    args.push_back("--cert-file=" + tls_files_.cert_file);
    args.push_back("--key-file=" + tls_files_.key_file);
    if (tls_files_.client_cert_auth) {
      args.push_back("--client-cert-auth");
      args.push_back("--trusted-ca-file=" + tls_files_.ca_file);
    }
  }
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  const int log_fd = open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) return absl::InternalError("cannot open etcd log file");
  const pid_t parent = getpid();
  pid_ = fork();
  if (pid_ < 0) {
    close(log_fd);
    return absl::InternalError("fork failed");
  }
  if (pid_ == 0) {
    // Die with the test, even if it crashes.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    const int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0) dup2(devnull, STDIN_FILENO);
    execv(kEtcdBinary, argv.data());
    _exit(127);
  }
  close(log_fd);
  return absl::OkStatus();
}

absl::Status EtcdProcess::WaitReady() {
  std::shared_ptr<grpc::ChannelCredentials> credentials = grpc::InsecureChannelCredentials();
  if (tls_) {
    grpc::SslCredentialsOptions ssl;
    ssl.pem_root_certs = ReadFile(tls_files_.ca_file);
    if (tls_files_.client_cert_auth) {
      // The fixture's PKI puts the client pair next to the server's.
      const std::string dir = std::filesystem::path(tls_files_.ca_file).parent_path();
      ssl.pem_cert_chain = ReadFile(dir + "/client.crt");
      ssl.pem_private_key = ReadFile(dir + "/client.key");
    }
    credentials = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 20);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  auto channel = grpc::CreateCustomChannel(absl::StrCat("127.0.0.1:", client_port_), credentials, args);
  auto maintenance = etcdserverpb::Maintenance::NewStub(channel);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    int wstatus = 0;
    if (waitpid(pid_, &wstatus, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::UnavailableError("etcd exited during start-up");
    }
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(300));
    context.set_wait_for_ready(true);
    etcdserverpb::StatusRequest request;
    etcdserverpb::StatusResponse response;
    if (maintenance->Status(&context, request, &response).ok() && response.leader() != 0) {
      return absl::OkStatus();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return absl::DeadlineExceededError("etcd not ready after 15 s");
}

void EtcdProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  int wstatus = 0;
  waitpid(pid_, &wstatus, 0);
  pid_ = -1;
}

absl::Status EtcdProcess::Restart() {
  Kill();
  absl::Status status = Launch();
  if (status.ok()) status = WaitReady();
  return status;
}

void EtcdProcess::Pause() {
  if (pid_ > 0) kill(pid_, SIGSTOP);
}

void EtcdProcess::Resume() {
  if (pid_ > 0) kill(pid_, SIGCONT);
}

std::string EtcdProcess::LogTail() const {
  std::string text = ReadFile(log_file_);
  if (text.size() > 4000) text = text.substr(text.size() - 4000);
  return text;
}

absl::StatusOr<TestPki> MakeTestPki() {
  TestPki pki;
  pki.dir = MakeTempDir("pki");
  if (pki.dir.empty()) return absl::InternalError("mkdtemp failed");
  const std::string& d = pki.dir;
  {
    std::ofstream ext(d + "/server.ext");
    ext << "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n";
    std::ofstream client_ext(d + "/client.ext");
    client_ext << "extendedKeyUsage=clientAuth\n";
  }
  const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
  const std::string script = absl::StrCat(
      "set -e; cd '", d, "'; exec >openssl.log 2>&1;",
      "openssl req -x509 ", key, " -keyout ca.key -out ca.crt -days 1 -subj /CN=test-ca;",
      "openssl req -x509 ", key, " -keyout rogue-ca.key -out rogue-ca.crt -days 1 -subj /CN=rogue-ca;",
      "openssl req ", key, " -keyout server.key -out server.csr -subj /CN=127.0.0.1;",
      "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1",
      " -extfile server.ext -out server.crt;",
      "openssl req ", key, " -keyout client.key -out client.csr -subj /CN=reitunneld;",
      "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 1",
      " -extfile client.ext -out client.crt;",
      "openssl req ", key, " -keyout rogue.key -out rogue.csr -subj /CN=rogue;",
      "openssl x509 -req -in rogue.csr -CA rogue-ca.crt -CAkey rogue-ca.key -CAcreateserial",
      " -days 1 -extfile client.ext -out rogue.crt;");
  if (std::system(script.c_str()) != 0) {
    return absl::InternalError("openssl failed: " + ReadFile(d + "/openssl.log"));
  }
  pki.ca_cert = d + "/ca.crt";
  pki.server_cert = d + "/server.crt";
  pki.server_key = d + "/server.key";
  pki.client_cert = d + "/client.crt";
  pki.client_key = d + "/client.key";
  pki.rogue_cert = d + "/rogue.crt";
  pki.rogue_key = d + "/rogue.key";
  return pki;
}

}  // namespace reitunnel::cluster::testing
