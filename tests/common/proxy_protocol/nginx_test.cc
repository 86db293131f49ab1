// Integration: Debian's nginx, listening with `proxy_protocol`, must log the
// client address our v1 and v2 headers announce. Skips when nginx is absent
// (scripts/install-deps.sh installs it for CI).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/proxy_protocol/proxy_protocol.h"
#include "gtest/gtest.h"

extern char** environ;

namespace reitunnel::proxy_protocol {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

std::string FindNginx() {
  for (const char* p : {"/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

// A port that was free a moment ago (bind port 0, read it, release it). The
// race with other processes is handled by retrying nginx's start.
uint16_t FreeLoopbackPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  socklen_t len = sizeof(a);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
    close(fd);
    return 0;
  }
  close(fd);
  return ntohs(a.sin_port);
}

int ConnectLoopback(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

// Sends `bytes`, then reads until the server closes (bounded by SO_RCVTIMEO).
std::string Exchange(uint16_t port, const std::string& bytes) {
  int fd = ConnectLoopback(port);
  if (fd < 0) return "";
  std::string reply;
  if (send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size())) {
    char buf[4096];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) reply.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return reply;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

class NginxProxyProtocolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    nginx_ = FindNginx();
    if (nginx_.empty()) GTEST_SKIP() << "nginx is not installed (apt-get install nginx); skipping";
    char tmpl[] = "/tmp/reitunnel-nginx-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    for (int attempt = 0; attempt < 5 && pid_ <= 0; ++attempt) StartNginx();
    ASSERT_GT(pid_, 0) << "nginx did not start; error log:\n" << ReadFile(dir_ / "error.log");
  }

  void TearDown() override {
    StopNginx();
    if (!dir_.empty()) {
      std::error_code ec;
      fs::remove_all(dir_, ec);
    }
  }

  void StartNginx() {
    port_ = FreeLoopbackPort();
    ASSERT_NE(port_, 0);
    const std::string d = dir_.string();
    std::ofstream conf(dir_ / "nginx.conf");
    conf << "worker_processes 1;\n"
         << "error_log " << d << "/error.log info;\n"
         << "events { worker_connections 64; }\n"
         << "http {\n"
         << "  log_format pp '$proxy_protocol_addr:$proxy_protocol_port "
            "$proxy_protocol_server_addr:$proxy_protocol_server_port $request';\n"
         << "  access_log " << d << "/access.log pp;\n"
         << "  client_body_temp_path " << d << "/body;\n"
         << "  proxy_temp_path " << d << "/proxy;\n"
         << "  fastcgi_temp_path " << d << "/fastcgi;\n"
         << "  uwsgi_temp_path " << d << "/uwsgi;\n"
         << "  scgi_temp_path " << d << "/scgi;\n"
         << "  server {\n"
         << "    listen 127.0.0.1:" << port_ << " proxy_protocol;\n"
         << "    location / { return 200 \"ok\\n\"; }\n"
         << "  }\n"
         << "}\n";
    conf.close();
    std::string globals = "daemon off; master_process off; pid " + d + "/nginx.pid;";
    std::vector<std::string> args = {
        nginx_, "-e", d + "/error.log", "-p", d, "-c", d + "/nginx.conf", "-g", globals};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid;
    if (posix_spawn(&pid, nginx_.c_str(), nullptr, nullptr, argv.data(), environ) != 0) return;
    // Ready when it accepts a connection; gone if it could not bind.
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Clock::now() < deadline) {
      int status;
      if (waitpid(pid, &status, WNOHANG) == pid) return;  // exited: retry with another port
      int fd = ConnectLoopback(port_);
      if (fd >= 0) {
        close(fd);
        pid_ = pid;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
  }

  void StopNginx() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < deadline) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = 0;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = 0;
  }

  // Polls the access log until it has `lines` lines or the deadline passes.
  std::vector<std::string> AccessLog(size_t lines) {
    std::vector<std::string> out;
    auto deadline = Clock::now() + std::chrono::seconds(5);
    do {
      out.clear();
      std::istringstream in(ReadFile(dir_ / "access.log"));
      for (std::string line; std::getline(in, line);) out.push_back(line);
      if (out.size() >= lines) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (Clock::now() < deadline);
    return out;
  }

  std::string nginx_;
  fs::path dir_;
  uint16_t port_ = 0;
  pid_t pid_ = 0;
};

TEST_F(NginxProxyProtocolTest, NginxLogsTheAnnouncedClient) {
  const Endpoint v1_visitor{asio::ip::make_address("203.0.113.5"), 51234};
  const Endpoint v1_public{asio::ip::make_address("198.51.100.1"), 80};
  std::string reply = Exchange(port_, EncodeForConnection(Version::kV1, v1_visitor, v1_public) +
                                          "GET /v1 HTTP/1.0\r\nHost: a.example\r\n\r\n");
  EXPECT_EQ(reply.substr(0, 12), "HTTP/1.1 200") << reply;

  const Endpoint v2_visitor{asio::ip::make_address("2001:db8::7"), 4242};
  const Endpoint v2_public{asio::ip::make_address("2001:db8::1"), 443};
  reply = Exchange(port_, EncodeForConnection(Version::kV2, v2_visitor, v2_public, "b.example") +
                              "GET /v2 HTTP/1.0\r\nHost: b.example\r\n\r\n");
  EXPECT_EQ(reply.substr(0, 12), "HTTP/1.1 200") << reply;

  // A connection without a header is refused by nginx: proves it really
  // requires (and so really parsed) the PROXY header above.
  reply = Exchange(port_, "GET /none HTTP/1.0\r\nHost: c.example\r\n\r\n");
  EXPECT_EQ(reply.find("200"), std::string::npos) << reply;

  std::vector<std::string> log = AccessLog(2);
  ASSERT_GE(log.size(), 2u) << ReadFile(dir_ / "error.log");
  EXPECT_EQ(log[0], "203.0.113.5:51234 198.51.100.1:80 GET /v1 HTTP/1.0");
  EXPECT_EQ(log[1], "2001:db8::7:4242 2001:db8::1:443 GET /v2 HTTP/1.0");
}

}  // namespace
}  // namespace reitunnel::proxy_protocol
