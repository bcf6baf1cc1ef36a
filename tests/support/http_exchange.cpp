#include "tests/support/http_exchange.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "tests/support/time_scale.h"

namespace walstream::test {

namespace {

using Clock = std::chrono::steady_clock;

// A connected socket to host:port (numeric host only); throws naming both.
int connectTo(const std::string& host, uint16_t port) {
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string where = host + " port " + std::to_string(port);
  if (const int rc = ::getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found)) {
    throw std::runtime_error("not an IP address: " + where + ": " + ::gai_strerror(rc));
  }
  const int fd = ::socket(found->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const bool connected = fd >= 0 && ::connect(fd, found->ai_addr, found->ai_addrlen) == 0;
  const std::string err = std::strerror(errno);
  ::freeaddrinfo(found);
  if (!connected) {
    if (fd >= 0) ::close(fd);
    throw std::runtime_error("connect to " + where + ": " + err);
  }
  return fd;
}

}  // namespace

std::string httpExchange(const std::string& host, uint16_t port, const std::string& request,
                         std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + scaled(timeout);
  const int fd = connectTo(host, port);
  std::string received;
  try {
    for (size_t sent = 0; sent < request.size();) {
      const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) throw std::runtime_error("send: " + std::string(std::strerror(errno)));
      sent += static_cast<size_t>(n);
    }
    for (;;) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd p{fd, POLLIN, 0};
      if (left <= 0 || ::poll(&p, 1, static_cast<int>(left)) == 0) {
        throw std::runtime_error("the server did not close within the timeout; received: " +
                                 received);
      }
      char buf[16384];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw std::runtime_error("recv: " + std::string(std::strerror(errno)));
      if (n == 0) break;
      received.append(buf, static_cast<size_t>(n));
    }
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return received;
}

std::string closingRequest(const std::string& method, const std::string& target) {
  return method + " " + target + " HTTP/1.1\r\nHost: walstream-test\r\nConnection: close\r\n\r\n";
}

}  // namespace walstream::test
