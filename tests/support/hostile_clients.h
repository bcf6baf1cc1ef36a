// Clients that misbehave towards an HTTP port (the primary's, the replica's --http), for overload
// tests: requests that never end, requests whose client closes the connection at once, and
// connections that stay open without ever reading. Plain blocking sockets to 127.0.0.1; every
// connect is bounded by a timeout.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

namespace walstream::test {

// `count` times: connects, sends `GET target` and closes at once, without reading the answer.
// Returns how many requests were sent.
int burstConnectAndClose(uint16_t port, const std::string& target, int count);

// Connects, sends `head`, then `piece` again and again (a request that never ends), until the
// server closes the connection, a send makes no progress for 5 s, or `maxBytes` of pieces are
// sent. Returns the bytes of pieces sent; -1 when no connection could be made.
int64_t sendEndlessRequest(uint16_t port, const std::string& head, const std::string& piece,
                           uint64_t maxBytes);

// Connections held open and never read. With a `target`, each sends `GET target` first (a
// stream the server then writes to, into a receive buffer shrunk to `receiveBufferBytes`);
// without one, each just sits idle.
class SilentConnections {
 public:
  SilentConnections(uint16_t port, int count, const std::string& target = "",
                    int receiveBufferBytes = 4096);
  ~SilentConnections();
  SilentConnections(const SilentConnections&) = delete;
  SilentConnections& operator=(const SilentConnections&) = delete;

  size_t size() const { return fds_.size(); }  // connections that were established
  void closeAll();

 private:
  std::vector<int> fds_;
};

// `count` idle connections kept open from a thread: every `period`, the ones the server has
// closed are made again, so the server faces `count` of them for as long as the flood lasts
// (until stop(), destruction, or `maxDuration`).
class ConnectionFlood {
 public:
  ConnectionFlood(uint16_t port, int count,
                  std::chrono::milliseconds period = std::chrono::milliseconds(100),
                  std::chrono::milliseconds maxDuration = std::chrono::seconds(120));
  ~ConnectionFlood();
  ConnectionFlood(const ConnectionFlood&) = delete;
  ConnectionFlood& operator=(const ConnectionFlood&) = delete;

  void stop();
  // Connections made so far, the first `count` included.
  uint64_t connectionsMade() const { return made_.load(); }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> made_{0};
  std::thread thread_;
};

}  // namespace walstream::test
