#include "tests/support/stalling_proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tests/support/loopback_server.h"

namespace walstream::test {

namespace {

constexpr int kPollMs = 50;

UniqueFd connectToLoopback(uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return fd;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) fd.reset();
  return fd;
}

}  // namespace

StallingProxy::StallingProxy(uint16_t upstreamPort)
    : upstreamPort_(upstreamPort),
      listener_(listenOnLoopback(port_)),
      acceptor_([this] { accept(); }) {}

StallingProxy::~StallingProxy() {
  stop_ = true;
  acceptor_.join();
  for (std::thread& t : connections_) t.join();
}

void StallingProxy::accept() {
  while (!stop_) {
    pollfd p{listener_.get(), POLLIN, 0};
    if (::poll(&p, 1, kPollMs) <= 0) continue;
    const int client = ::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    std::lock_guard lock(mu_);
    connections_.emplace_back([this, client] { relay(client); });
  }
}

bool StallingProxy::stall() {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(stallMs_.load());
  while (std::chrono::steady_clock::now() < until) {
    if (stop_) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void StallingProxy::relay(int clientFd) {
  UniqueFd client(clientFd);
  UniqueFd upstream = connectToLoopback(upstreamPort_);
  if (!upstream.valid()) return;
  bool serverSpokeLast = true;  // so the first request stalls
  char buffer[64 * 1024];
  while (!stop_) {
    pollfd p[2] = {{client.get(), POLLIN, 0}, {upstream.get(), POLLIN, 0}};
    if (::poll(p, 2, kPollMs) <= 0) continue;
    for (int side = 0; side < 2; ++side) {
      if (!(p[side].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      const ssize_t n = ::read(p[side].fd, buffer, sizeof buffer);
      if (n <= 0) return;  // either side closed: so does the proxy
      if (side == 0 && serverSpokeLast) {
        ++stalled_;
        if (stallMs_ > 0 && !stall()) return;
      }
      serverSpokeLast = side == 1;
      if (!sendAll(side == 0 ? upstream.get() : client.get(), std::string_view(buffer, n))) {
        return;
      }
    }
  }
}

}  // namespace walstream::test
