// HTTP CONNECT through a real proxy: Debian's tinyproxy on loopback, with
// and without BasicAuth, tunnelling a TCP echo and a WebSocket echo.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "asio/experimental/awaitable_operators.hpp"
#include "common/net/dial.h"
#include "common/net/spawn.h"
#include "common/transport/errors/errors.h"
#include "common/transport/http1/prefixed_stream.h"
#include "common/transport/http_proxy/proxy_connect.h"
#include "common/transport/ws/ws_handshake.h"
#include "gtest/gtest.h"
#include "tests/common/transport/loopback.h"

namespace reitunnel::transport {
namespace {

using asio::ip::tcp;
using testing::RunOn;

std::string FindTinyproxy() {
  for (const char* p : {"/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"}) {
    if (access(p, X_OK) == 0) return p;
  }
  return "";
}

// A free loopback port: bind port 0, read it, release it. Another process
// may take it before tinyproxy binds; the caller retries then.
uint16_t PickPort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  close(fd);
  return ntohs(a.sin_port);
}

bool Accepts(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
  close(fd);
  return ok;
}

// One tinyproxy process, killed by PID on destruction.
class Tinyproxy {
 public:
  // `connect_ports`: the only ports CONNECT may reach (tinyproxy's stock
  // config allows 443 and 563 only; with no ConnectPort line it allows all).
  Tinyproxy(const std::string& dir, const std::vector<uint16_t>& connect_ports,
            const std::string& basic_auth) {
    const std::string bin = FindTinyproxy();
    if (bin.empty()) {
      error_ = "tinyproxy is not installed (scripts/install-deps.sh installs it)";
      return;
    }
    for (int attempt = 0; attempt < 5 && pid_ <= 0; ++attempt) {
      port_ = PickPort();
      const std::string conf = dir + "/tinyproxy.conf";
      const std::string log = dir + "/tinyproxy.log";
      {
        std::ofstream f(conf);
        f << "Port " << port_ << "\nListen 127.0.0.1\nTimeout 30\nMaxClients 20\n"
          << "Allow 127.0.0.1\nLogLevel Info\n";
        for (uint16_t p : connect_ports) f << "ConnectPort " << p << "\n";
        if (!basic_auth.empty()) f << "BasicAuth " << basic_auth << "\n";
      }
      std::vector<std::string> args = {bin, "-d", "-c", conf};
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      // fork + exec rather than posix_spawn: the child asks to be killed
      // when the test process dies, so a crashed test leaves no proxy.
      const pid_t parent = getpid();
      pid_t pid = fork();
      if (pid < 0) {
        error_ = "fork failed";
        return;
      }
      if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
          dup2(fd, 1);
          dup2(fd, 2);
        }
        execv(bin.c_str(), argv.data());
        _exit(127);
      }
      // Ready when it accepts; gone early means the port was taken.
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (std::chrono::steady_clock::now() < deadline) {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) {
          pid = 0;
          break;
        }
        if (Accepts(port_)) {
          pid_ = pid;
          break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      if (pid > 0 && pid_ <= 0) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      }
    }
    if (pid_ <= 0) {
      std::ifstream f(dir + "/tinyproxy.log");
      std::stringstream ss;
      ss << f.rdbuf();
      error_ = "tinyproxy did not start: " + ss.str();
    }
  }
  ~Tinyproxy() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
    }
  }
  Tinyproxy(const Tinyproxy&) = delete;
  Tinyproxy& operator=(const Tinyproxy&) = delete;

  bool ok() const { return pid_ > 0; }
  const std::string& error() const { return error_; }
  uint16_t port() const { return port_; }

 private:
  pid_t pid_ = 0;
  uint16_t port_ = 0;
  std::string error_;
};

// Echo servers on loopback, served on the test's io_context.
asio::awaitable<void> TcpEcho(std::shared_ptr<tcp::acceptor> acceptor) {
  for (;;) {
    tcp::socket s = co_await acceptor->async_accept(asio::use_awaitable);
    auto conn = std::make_shared<net::Conn>(std::move(s));
    net::Spawn(
        acceptor->get_executor(),
        [conn]() -> asio::awaitable<void> {
          char buf[8192];
          for (;;) {
            size_t n = co_await conn->ReadSome(asio::buffer(buf));
            if (n == 0) break;
            co_await conn->WriteAll(asio::buffer(buf, n));
          }
          conn->ShutdownSend();
        },
        "test tcp echo");
  }
}

asio::awaitable<void> WsEcho(std::shared_ptr<tcp::acceptor> acceptor) {
  for (;;) {
    tcp::socket s = co_await acceptor->async_accept(asio::use_awaitable);
    auto conn = std::make_shared<net::Conn>(std::move(s));
    net::Spawn(
        acceptor->get_executor(),
        [conn]() -> asio::awaitable<void> {
          WsServerOptions options;
          auto ws = co_await WsAccept(conn, options);
          char buf[8192];
          for (;;) {
            size_t n = co_await ws->ReadSome(asio::buffer(buf));
            if (n == 0) break;
            co_await ws->WriteAll(asio::buffer(buf, n));
          }
          ws->ShutdownSend();
        },
        "test ws echo");
  }
}

class TinyproxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/tinyproxy_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::filesystem::create_directory(dir_ + "/open");
    std::filesystem::create_directory(dir_ + "/auth");
    const tcp::endpoint any(asio::ip::make_address("127.0.0.1"), 0);
    tcp_echo_ = std::make_shared<tcp::acceptor>(io_, any);
    ws_echo_ = std::make_shared<tcp::acceptor>(io_, any);
    net::Spawn(io_, TcpEcho(tcp_echo_), "tcp echo acceptor");
    net::Spawn(io_, WsEcho(ws_echo_), "ws echo acceptor");
    const std::vector<uint16_t> ports = {tcp_port(), ws_port()};
    open_ = std::make_unique<Tinyproxy>(dir_ + "/open", ports, "");
    ASSERT_TRUE(open_->ok()) << open_->error();
    auth_ = std::make_unique<Tinyproxy>(dir_ + "/auth", ports, "agent s3cr3t-pw");
    ASSERT_TRUE(auth_->ok()) << auth_->error();
  }
  void TearDown() override {
    open_.reset();
    auth_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  uint16_t tcp_port() const { return tcp_echo_->local_endpoint().port(); }
  uint16_t ws_port() const { return ws_echo_->local_endpoint().port(); }

  // Dials the proxy and CONNECTs to 127.0.0.1:target_port.
  asio::awaitable<std::shared_ptr<Stream>> Tunnel(uint16_t proxy_port, uint16_t target_port,
                                                  const ProxyCredentials* creds) {
    tcp::socket s = co_await net::Dial("127.0.0.1", proxy_port, std::chrono::seconds(5));
    auto conn = std::make_shared<net::Conn>(std::move(s));
    std::string rest = co_await ProxyConnect(*conn, "127.0.0.1", target_port, creds);
    co_return http1::WithPrefix(conn, std::move(rest));
  }

  asio::awaitable<std::error_code> TunnelError(uint16_t proxy_port, uint16_t target_port,
                                               const ProxyCredentials* creds, std::string* what) {
    try {
      co_await Tunnel(proxy_port, target_port, creds);
    } catch (const std::system_error& e) {
      *what = e.what();
      co_return e.code();
    }
    co_return std::error_code();
  }

  asio::io_context io_;
  std::string dir_;
  std::shared_ptr<tcp::acceptor> tcp_echo_;
  std::shared_ptr<tcp::acceptor> ws_echo_;
  std::unique_ptr<Tinyproxy> open_;
  std::unique_ptr<Tinyproxy> auth_;
};

// tinyproxy ends both directions when one side sends EOF (no TCP
// half-close through it), so the echo is read back in full before our side
// ends.
asio::awaitable<void> EchoRoundTrip(Stream& s, size_t bytes) {
  std::string data(bytes, '\0');
  for (size_t i = 0; i < bytes; ++i) data[i] = static_cast<char>(i * 131 + 7);
  using namespace asio::experimental::awaitable_operators;
  auto write = [&]() -> asio::awaitable<void> { co_await s.WriteAll(asio::buffer(data)); };
  const std::string echoed = co_await (write() && testing::ReadN(s, bytes));
  s.ShutdownSend();
  EXPECT_EQ(echoed.size(), data.size());
  EXPECT_TRUE(echoed == data);
}

TEST_F(TinyproxyTest, TcpEchoThroughOpenProxy) {
  RunOn(io_, [&]() -> asio::awaitable<void> {
    auto tunnel = co_await Tunnel(open_->port(), tcp_port(), nullptr);
    co_await EchoRoundTrip(*tunnel, 1 << 20);
  });
}

TEST_F(TinyproxyTest, WebSocketEchoThroughOpenProxy) {
  RunOn(io_, [&]() -> asio::awaitable<void> {
    auto tunnel = co_await Tunnel(open_->port(), ws_port(), nullptr);
    WsClientOptions o;
    o.host_header = "127.0.0.1:" + std::to_string(ws_port());
    auto ws = co_await WsConnect(tunnel, o);
    EXPECT_STREQ(ws->kind(), "ws");
    co_await EchoRoundTrip(*ws, 1 << 20);
    // Our Close went through the proxy and the echo server's answer came
    // back: the close handshake is the half-close a proxy cannot break.
    EXPECT_EQ(co_await testing::ReadAll(*ws), "");
    EXPECT_EQ(ws->peer_close_code(), 1000);
  });
}

TEST_F(TinyproxyTest, ConnectToAPortNotAllowedIsRefused) {
  RunOn(io_, [&]() -> asio::awaitable<void> {
    std::string what;
    // The proxy's own port is not in its ConnectPort list.
    std::error_code code = co_await TunnelError(open_->port(), auth_->port(), nullptr, &what);
    EXPECT_EQ(code, make_error_code(TransportError::kProxyRefused)) << what;
    EXPECT_NE(what.find("HTTP/1."), std::string::npos) << what;
    EXPECT_NE(what.find("403"), std::string::npos) << what;
  });
}

TEST_F(TinyproxyTest, BasicAuthProxy) {
  RunOn(io_, [&]() -> asio::awaitable<void> {
    std::string what;
    std::error_code code = co_await TunnelError(auth_->port(), tcp_port(), nullptr, &what);
    EXPECT_EQ(code, make_error_code(TransportError::kProxyAuthRequired)) << what;
    EXPECT_NE(what.find("proxy authentication required"), std::string::npos) << what;
    EXPECT_NE(what.find("407"), std::string::npos) << what;

    ProxyCredentials wrong{"agent", "not-the-password"};
    code = co_await TunnelError(auth_->port(), tcp_port(), &wrong, &what);
    EXPECT_EQ(code, make_error_code(TransportError::kProxyAuthRequired)) << what;
    // tinyproxy answers bad credentials with 401, not 407: same error.
    EXPECT_NE(what.find("credentials rejected"), std::string::npos) << what;
    EXPECT_EQ(what.find("not-the-password"), std::string::npos) << what;

    ProxyCredentials right{"agent", "s3cr3t-pw"};
    auto tunnel = co_await Tunnel(auth_->port(), tcp_port(), &right);
    co_await EchoRoundTrip(*tunnel, 64 * 1024);

    auto ws_tunnel = co_await Tunnel(auth_->port(), ws_port(), &right);
    WsClientOptions o;
    o.host_header = "127.0.0.1:" + std::to_string(ws_port());
    auto ws = co_await WsConnect(ws_tunnel, o);
    co_await EchoRoundTrip(*ws, 64 * 1024);
  });
}

}  // namespace
}  // namespace reitunnel::transport
