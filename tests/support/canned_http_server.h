// A stand-in for a primary in tests: an HTTP server on 127.0.0.1 (ephemeral port) that answers
// every request with one fixed response, or with whatever a handler writes to the connection
// (a hostile upstream), and closes the connection, keeping each request's target. Connections
// are served one at a time. Its thread stops and is joined on destruction.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/file_util.h"

namespace walstream::test {

class CannedHttpServer {
 public:
  // Writes the response for one request to the connection `fd`; `stopping()` tells it to return
  // (the server is being destroyed). The server closes the connection after it returns.
  using Handler = std::function<void(int fd, const std::string& target)>;

  explicit CannedHttpServer(std::string response);
  // `port` 0: an ephemeral one; else that one (a server restarting where its clients expect it).
  explicit CannedHttpServer(Handler handler, uint16_t port = 0);
  ~CannedHttpServer();
  CannedHttpServer(const CannedHttpServer&) = delete;
  CannedHttpServer& operator=(const CannedHttpServer&) = delete;

  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::vector<std::string> targets() const;  // of the requests so far, in order
  // Waits (bounded) until at least `n` requests arrived; returns how many did.
  size_t waitForRequests(size_t n, std::chrono::milliseconds timeout) const;
  bool stopping() const { return stop_; }

  // Writes all of `bytes` to a connection; false when the peer is gone or the server stops.
  bool sendAll(int fd, std::string_view bytes) const;
  // Writes `piece` again and again, `maxBytes` in all at most (an upstream that would never
  // stop, bounded); returns the bytes written before the peer went, the server stopped, or the
  // bound was reached.
  uint64_t sendRepeated(int fd, std::string_view piece, uint64_t maxBytes) const;

 private:
  void serve();

  const Handler handler_;
  uint16_t port_ = 0;  // before listener_, which sets it
  UniqueFd listener_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<std::string> targets_;
  std::thread thread_;
};

}  // namespace walstream::test
