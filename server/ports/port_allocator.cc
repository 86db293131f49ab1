#include "server/ports/port_allocator.h"

#include <random>

#include "absl/strings/str_cat.h"
#include "common/net/listener.h"
#include "common/net/udp_group.h"

namespace reitunnel::server {

PortAllocator::Reservation::~Reservation() { owner_->Release(port_); }

void PortAllocator::Release(uint16_t port) {
  std::lock_guard<std::mutex> l(mu_);
  reserved_.erase(port);
}

size_t PortAllocator::reserved() const {
  std::lock_guard<std::mutex> l(mu_);
  return reserved_.size();
}

std::string PortAllocator::RangeString() const {
  return low_ == high_ ? absl::StrCat(low_) : absl::StrCat(low_, "-", high_);
}

std::unique_ptr<PortAllocator::Reservation> PortAllocator::Reserve(uint32_t requested,
                                                                   Refusal* refusal) {
  if (requested != 0) {
    if (!InRange(requested)) {
      *refusal = {wire::v1::REFUSAL_CODE_PORT_OUT_OF_RANGE,
                  absl::StrCat("port ", requested, " is outside the allowed range ",
                               RangeString())};
      return nullptr;
    }
    auto port = static_cast<uint16_t>(requested);
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!reserved_.insert(port).second) {
        *refusal = {wire::v1::REFUSAL_CODE_PORT_IN_USE,
                    absl::StrCat("port ", requested, " is already in use")};
        return nullptr;
      }
    }
    auto r = std::make_unique<Reservation>(this, port);
    // Someone outside this process may hold it; say so before the hook is
    // asked about a tunnel that cannot open.
    if (net::ProbeListen({bind_addr_, port}) == asio::error::address_in_use) {
      *refusal = {wire::v1::REFUSAL_CODE_PORT_IN_USE,
                  absl::StrCat("port ", requested, " is already in use")};
      return nullptr;
    }
    return r;
  }
  uint32_t span = capacity();
  uint32_t start = std::random_device{}() % span;
  for (uint32_t i = 0; i < span; ++i) {
    auto port = static_cast<uint16_t>(low_ + (start + i) % span);
    {
      std::lock_guard<std::mutex> l(mu_);
      if (!reserved_.insert(port).second) continue;
    }
    auto r = std::make_unique<Reservation>(this, port);
    if (!net::ProbeListen({bind_addr_, port})) return r;
  }
  *refusal = {wire::v1::REFUSAL_CODE_LIMIT,
              absl::StrCat("no free port left in the range ", RangeString())};
  return nullptr;
}

std::vector<asio::ip::tcp::acceptor> PortAllocator::Bind(
    const Reservation& r, const std::vector<asio::any_io_executor>& executors,
    Refusal* refusal) const {
  auto group = net::ListenGroup({bind_addr_, r.port()}, executors);
  if (group.ok()) return std::move(*group);
  if (group.status().code() == absl::StatusCode::kAlreadyExists) {
    *refusal = {wire::v1::REFUSAL_CODE_PORT_IN_USE,
                absl::StrCat("port ", r.port(), " is already in use")};
  } else {
    *refusal = {wire::v1::REFUSAL_CODE_LIMIT,
                absl::StrCat("cannot listen on port ", r.port(), ": ", group.status().message())};
  }
  return {};
}

std::vector<asio::ip::udp::socket> PortAllocator::BindUdp(
    const Reservation& r, const std::vector<asio::any_io_executor>& executors,
    Refusal* refusal) const {
  auto group = net::UdpGroup({bind_addr_, r.port()}, executors);
  if (group.ok()) return std::move(*group);
  if (group.status().code() == absl::StatusCode::kAlreadyExists) {
    *refusal = {wire::v1::REFUSAL_CODE_PORT_IN_USE,
                absl::StrCat("UDP port ", r.port(), " is already in use")};
  } else {
    *refusal = {wire::v1::REFUSAL_CODE_LIMIT, absl::StrCat("cannot bind UDP port ", r.port(), ": ",
                                                           group.status().message())};
  }
  return {};
}

}  // namespace reitunnel::server
