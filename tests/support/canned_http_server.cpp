#include "tests/support/canned_http_server.h"

#include "tests/support/loopback_server.h"

namespace walstream::test {

CannedHttpServer::CannedHttpServer(std::string response)
    : response_(std::move(response)), listener_(listenOnLoopback(port_)) {
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
    sendAll(fd, response_);
  });
}

}  // namespace walstream::test
