#include "tests/support/loopback_server.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <stdexcept>

namespace walstream::test {

namespace {

UniqueFd listenOn(uint16_t& port) {
  UniqueFd listener(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener.valid()) throw std::runtime_error("socket failed");
  // Connections it accepted linger in TIME_WAIT after it closes them; the port can be listened
  // on again (a server restarting in place) only when they, and the new listener, allow reuse.
  const int on = 1;
  ::setsockopt(listener.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  socklen_t len = sizeof addr;
  if (::bind(listener.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener.get(), 16) != 0 ||
      ::getsockname(listener.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("cannot listen on 127.0.0.1");
  }
  port = ntohs(addr.sin_port);
  return listener;
}

}  // namespace

UniqueFd listenOnLoopback(uint16_t& port) {
  port = 0;
  return listenOn(port);
}

UniqueFd listenOnLoopbackPort(uint16_t port) {
  return listenOn(port);
}

namespace {

// Every wait is at most this long, so that a stop is noticed soon.
constexpr int kPollMs = 20;
constexpr auto kRequestPatience = std::chrono::seconds(5);

bool readableSoon(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, kPollMs) > 0;
}

std::string readRequestTarget(int fd, const std::atomic<bool>& stop) {
  std::string request;
  const auto deadline = std::chrono::steady_clock::now() + kRequestPatience;
  while (!stop && std::chrono::steady_clock::now() < deadline) {
    if (!readableSoon(fd)) continue;
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return "";
    request.append(buf, static_cast<size_t>(n));
    if (request.find("\r\n\r\n") != std::string::npos) {
      const size_t start = request.find(' ') + 1;
      return request.substr(start, request.find(' ', start) - start);
    }
  }
  return "";
}

}  // namespace

void serveRequests(int listener, const std::atomic<bool>& stop,
                   const std::function<void(int fd, const std::string& target)>& handle) {
  while (!stop) {
    if (!readableSoon(listener)) continue;
    UniqueFd conn(::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) continue;
    const std::string target = readRequestTarget(conn.get(), stop);
    if (!target.empty()) handle(conn.get(), target);
  }
}

bool sendAll(int fd, std::string_view bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    const ssize_t n = ::send(fd, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace walstream::test
