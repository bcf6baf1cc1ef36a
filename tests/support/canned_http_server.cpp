#include "tests/support/canned_http_server.h"

#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>

namespace walstream::test {

namespace {

// Every wait of the server thread is at most this long, so that it notices stop_ soon.
constexpr int kPollMs = 20;
// A client gets this long to send its request head.
constexpr auto kRequestPatience = std::chrono::seconds(5);

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, kPollMs) > 0;
}

}  // namespace

CannedHttpServer::CannedHttpServer(std::string response)
    : handler_([this, response = std::move(response)](int fd, const std::string&) {
        sendAll(fd, response);
      }) {
  listen();
}

CannedHttpServer::CannedHttpServer(Handler handler) : handler_(std::move(handler)) {
  listen();
}

void CannedHttpServer::listen() {
  listener_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!listener_.valid()) throw std::runtime_error("socket failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listener_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener_.get(), 16) != 0 ||
      ::getsockname(listener_.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    throw std::runtime_error("cannot listen on 127.0.0.1");
  }
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { serve(); });
}

CannedHttpServer::~CannedHttpServer() {
  stop_ = true;
  thread_.join();
}

std::vector<std::string> CannedHttpServer::targets() const {
  std::lock_guard lock(mu_);
  return targets_;
}

size_t CannedHttpServer::waitForRequests(size_t n, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const size_t have = targets().size();
    if (have >= n || std::chrono::steady_clock::now() >= deadline) return have;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void CannedHttpServer::serve() {
  while (!stop_) {
    if (!readable(listener_.get())) continue;
    UniqueFd conn(::accept4(listener_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn.valid()) continue;
    std::string request;
    const auto deadline = std::chrono::steady_clock::now() + kRequestPatience;
    bool complete = false;
    while (!stop_ && std::chrono::steady_clock::now() < deadline) {
      if (!readable(conn.get())) continue;
      char buf[4096];
      const ssize_t n = ::read(conn.get(), buf, sizeof buf);
      if (n <= 0) break;
      request.append(buf, static_cast<size_t>(n));
      if (request.find("\r\n\r\n") != std::string::npos) {
        complete = true;
        break;
      }
    }
    if (!complete) continue;
    // "GET <target> HTTP/1.1"
    const size_t start = request.find(' ') + 1;
    const size_t end = request.find(' ', start);
    {
      std::lock_guard lock(mu_);
      targets_.push_back(request.substr(start, end - start));
    }
    handler_(conn.get(), request.substr(start, end - start));
  }
}

bool CannedHttpServer::sendAll(int fd, std::string_view bytes) const {
  while (!bytes.empty()) {
    if (stop_) return false;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, kPollMs) <= 0) continue;
    const ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

}  // namespace walstream::test
