#include "tests/support/canned_http_server.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

#include "tests/support/loopback_server.h"

namespace walstream::test {

namespace {

// Every wait of a write is at most this long, so that a stop is noticed soon.
constexpr int kPollMs = 20;

}  // namespace

CannedHttpServer::CannedHttpServer(std::string response)
    : CannedHttpServer([this, response = std::move(response)](int fd, const std::string&) {
        sendAll(fd, response);
      }) {}

CannedHttpServer::CannedHttpServer(Handler handler, uint16_t port)
    : handler_(std::move(handler)),
      port_(port),
      listener_(port == 0 ? listenOnLoopback(port_) : listenOnLoopbackPort(port)) {
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
  serveRequests(listener_.get(), stop_, [this](int fd, const std::string& target) {
    {
      std::lock_guard lock(mu_);
      targets_.push_back(target);
    }
    handler_(fd, target);
  });
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

uint64_t CannedHttpServer::sendRepeated(int fd, std::string_view piece, uint64_t maxBytes) const {
  uint64_t sent = 0;
  while (sent + piece.size() <= maxBytes && sendAll(fd, piece)) sent += piece.size();
  return sent;
}

}  // namespace walstream::test
