#include "tests/support/hostile_clients.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace walstream::test {

namespace {

// A connected socket, or -1 when the connection could not be made (the server refused it, or
// this process is out of descriptors).
int connectTo(uint16_t port, int receiveBufferBytes) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (receiveBufferBytes > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receiveBufferBytes, sizeof receiveBufferBytes);
  }
  timeval timeout{5, 0};  // bounds connect() and send()
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

bool sendRequest(int fd, const std::string& target) {
  const std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  return ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(request.size());
}

}  // namespace

int burstConnectAndClose(uint16_t port, const std::string& target, int count) {
  int sent = 0;
  for (int i = 0; i < count; ++i) {
    const int fd = connectTo(port, 0);
    if (fd < 0) continue;
    if (sendRequest(fd, target)) ++sent;
    ::close(fd);
  }
  return sent;
}

int64_t sendEndlessRequest(uint16_t port, const std::string& head, const std::string& piece,
                           uint64_t maxBytes) {
  const int fd = connectTo(port, 0);
  if (fd < 0) return -1;
  auto sendWhole = [fd](const std::string& bytes) {
    for (size_t off = 0; off < bytes.size();) {
      const ssize_t n = ::send(fd, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
      if (n <= 0) return false;  // closed, reset, or SO_SNDTIMEO passed
      off += static_cast<size_t>(n);
    }
    return true;
  };
  int64_t sent = 0;
  if (sendWhole(head)) {
    while (static_cast<uint64_t>(sent) + piece.size() <= maxBytes && sendWhole(piece)) {
      sent += static_cast<int64_t>(piece.size());
    }
  }
  ::close(fd);
  return sent;
}

SilentConnections::SilentConnections(uint16_t port, int count, const std::string& target,
                                     int receiveBufferBytes) {
  for (int i = 0; i < count; ++i) {
    const int fd = connectTo(port, receiveBufferBytes);
    if (fd < 0) continue;
    if (!target.empty() && !sendRequest(fd, target)) {
      ::close(fd);
      continue;
    }
    fds_.push_back(fd);
  }
}

SilentConnections::~SilentConnections() {
  closeAll();
}

void SilentConnections::closeAll() {
  for (int fd : fds_) ::close(fd);
  fds_.clear();
}

ConnectionFlood::ConnectionFlood(uint16_t port, int count, std::chrono::milliseconds period,
                                 std::chrono::milliseconds maxDuration) {
  thread_ = std::thread([this, port, count, period, maxDuration] {
    const auto until = std::chrono::steady_clock::now() + maxDuration;
    std::vector<int> fds(static_cast<size_t>(count), -1);
    while (!stop_ && std::chrono::steady_clock::now() < until) {
      for (int& fd : fds) {
        if (fd >= 0) {
          // Closed by the server: readable, and a read returns 0 (or an error).
          pollfd p{fd, POLLIN, 0};
          char byte;
          if (::poll(&p, 1, 0) > 0 && ::recv(fd, &byte, 1, MSG_DONTWAIT) <= 0) {
            ::close(fd);
            fd = -1;
          }
        }
        if (fd < 0 && !stop_) {
          fd = connectTo(port, 0);
          if (fd >= 0) ++made_;
        }
      }
      std::this_thread::sleep_for(period);
    }
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  });
}

ConnectionFlood::~ConnectionFlood() {
  stop();
}

void ConnectionFlood::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

}  // namespace walstream::test
