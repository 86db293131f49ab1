#include "common/transport/tcp/tcp_transport.h"

#include "common/net/dial.h"

namespace reitunnel::transport {

asio::awaitable<std::shared_ptr<net::Conn>> DialTcp(const std::string& host, uint16_t port,
                                                    std::chrono::milliseconds timeout) {
  auto socket = co_await net::Dial(host, port, timeout);
  co_return std::make_shared<net::Conn>(std::move(socket));
}

std::shared_ptr<net::Conn> AdoptTcp(asio::ip::tcp::socket socket, std::string peer) {
  return std::make_shared<net::Conn>(std::move(socket), std::move(peer));
}

}  // namespace reitunnel::transport
