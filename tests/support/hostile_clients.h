// Clients that misbehave towards an HTTP port (the primary's, the replica's --http), for overload
// tests: requests that never end, requests whose client closes the connection at once,
// connections that stay open without ever reading, and requests whose answers are never read.
// Plain blocking sockets to 127.0.0.1; every connect and wait is bounded by a timeout.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
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
// without one, each just sits idle. `maxSegmentBytes` > 0 announces that segment size
// (TCP_MAXSEG): Linux then gives the server's side a send buffer of tens of KiB rather than
// megabytes, so that a stream stalls within a snapshot of a few MiB.
class SilentConnections {
 public:
  SilentConnections(uint16_t port, int count, const std::string& target = "",
                    int receiveBufferBytes = 4096, int maxSegmentBytes = 0);
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

// `count` connections that each send `request` one byte every `period` (a slow-header client),
// from a thread, and note when the server closes each (after an answer or without one). The
// thread stops at stop(), destruction, once every connection is closed, or after `maxDuration`;
// a request sent whole is left waiting for its answer.
class TricklingRequests {
 public:
  TricklingRequests(uint16_t port, int count, std::string request,
                    std::chrono::milliseconds period = std::chrono::seconds(1),
                    std::chrono::milliseconds maxDuration = std::chrono::seconds(120));
  ~TricklingRequests();
  TricklingRequests(const TricklingRequests&) = delete;
  TricklingRequests& operator=(const TricklingRequests&) = delete;

  size_t size() const { return clients_.size(); }  // connections that were established
  void stop();
  // Waits up to `patience` for the server to close every connection; then, for each, how long
  // after it was made the server closed it (nullopt: still open), and the bytes it sent.
  struct Closed {
    std::optional<std::chrono::milliseconds> after;
    size_t bytesSent = 0;
  };
  std::vector<Closed> waitForClose(std::chrono::milliseconds patience);

 private:
  struct Client {
    int fd = -1;
    std::chrono::steady_clock::time_point opened;
    std::optional<std::chrono::milliseconds> closedAfter;
    size_t sent = 0;
  };
  void run(std::chrono::milliseconds period, std::chrono::milliseconds maxDuration);

  const std::string request_;
  std::vector<Client> clients_;  // guarded by mu_ once the thread runs
  std::mutex mu_;
  std::condition_variable changed_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// `count` connections that each send `GET target`, then wait for the first byte of the answer
// or for `patience`, whichever comes first, and close. Returns how many saw an answer byte.
int requestThenLeave(uint16_t port, const std::string& target, int count,
                     std::chrono::milliseconds patience);

// The smallest segment size Linux lets a connection announce (TCP_MIN_MSS).
inline constexpr int kSmallestSegment = 88;

// A connection whose client sends requests and never reads the answers, with the smallest
// receive buffer and segment size: what the server writes stays in the server's send queue, in
// small segments.
class UnreadConnection {
 public:
  // Throws std::runtime_error when it cannot connect.
  explicit UnreadConnection(uint16_t port);
  ~UnreadConnection();
  UnreadConnection(const UnreadConnection&) = delete;
  UnreadConnection& operator=(const UnreadConnection&) = delete;

  uint16_t serverPort() const { return port_; }
  uint16_t localPort() const { return localPort_; }
  // Sends all of `bytes` (bounded by 5 s); throws when it cannot.
  void send(const std::string& bytes);
  // Bytes of answers that arrived and wait, unread, in this side's receive buffer.
  uint64_t bytesWaiting() const;

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
  uint16_t localPort_ = 0;
};

// `count` keep-alive `GET target` requests back to back.
std::string pipelinedRequests(const std::string& target, int count);

// The whole keep-alive answer to `GET target` (status line, headers, body), in bytes.
size_t keepAliveAnswerBytes(uint16_t port, const std::string& target);

// The server process `pid`'s side of `connection`, as Linux lists it (/proc/PID/net/tcp).
struct ServerSocket {
  bool established = false;   // false once the server has closed it
  uint64_t sendQueue = 0;     // bytes written and not yet acknowledged by the client
  uint64_t receiveQueue = 0;  // bytes received and not yet read by the server
  std::string inode;
};
std::optional<ServerSocket> serverSocket(pid_t pid, const UnreadConnection& connection);

// Bytes the server has written on `connection` that its client has not read: the server's send
// queue plus what waits in the client's receive buffer. 0 when the server has no such socket.
uint64_t unwrittenOrUnread(pid_t pid, const UnreadConnection& connection);

// Shrinks the send buffer of the server's side of `connection` to the smallest Linux allows
// (which also stops the kernel from growing it), on the socket itself: process `pid` must be a
// child of this one (the socket is borrowed with pidfd_getfd). With more than that already
// queued for a client that does not read, the server's next write on the connection waits: the
// send buffer is full at a moment the test chooses. A client alone brings that about only by
// luck: Linux grows the buffer while a write waits, and takes each write up to the end of a
// segment, so the write that finds it full is rarely the one a test wants. Throws on failure.
void fillServerSendBuffer(pid_t pid, const UnreadConnection& connection);

}  // namespace walstream::test
