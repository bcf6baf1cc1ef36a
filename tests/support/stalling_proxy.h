// A slow network path to a server in tests: a TCP proxy on 127.0.0.1 (ephemeral port) that
// relays every connection to 127.0.0.1:upstreamPort, holding each request for a settable time
// before passing it on: whenever a client starts sending after the server last spoke (a new
// request on a kept-alive connection, or the first one), its bytes wait `stall`. Each
// connection has its own thread; all stop and are joined on destruction.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/file_util.h"

namespace walstream::test {

class StallingProxy {
 public:
  explicit StallingProxy(uint16_t upstreamPort);
  ~StallingProxy();
  StallingProxy(const StallingProxy&) = delete;
  StallingProxy& operator=(const StallingProxy&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  void setStall(std::chrono::milliseconds stall) { stallMs_ = stall.count(); }
  int requestsStalled() const { return stalled_.load(); }

 private:
  void accept();
  void relay(int client);
  // Sleeps the current stall in short steps; false when the proxy stops meanwhile.
  bool stall();

  const uint16_t upstreamPort_;
  uint16_t port_ = 0;  // before listener_, which sets it
  UniqueFd listener_;
  std::atomic<bool> stop_{false};
  std::atomic<long long> stallMs_{0};
  std::atomic<int> stalled_{0};
  std::mutex mu_;
  std::vector<std::thread> connections_;
  std::thread acceptor_;
};

}  // namespace walstream::test
