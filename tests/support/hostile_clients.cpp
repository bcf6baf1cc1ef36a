#include "tests/support/hostile_clients.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace walstream::test {

namespace {

// A connected socket, or -1 when the connection could not be made (the server refused it, or
// this process is out of descriptors).
int connectTo(uint16_t port, int receiveBufferBytes, int maxSegmentBytes = 0) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  if (receiveBufferBytes > 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receiveBufferBytes, sizeof receiveBufferBytes);
  }
  if (maxSegmentBytes > 0) {
    ::setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &maxSegmentBytes, sizeof maxSegmentBytes);
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
                                     int receiveBufferBytes, int maxSegmentBytes) {
  for (int i = 0; i < count; ++i) {
    const int fd = connectTo(port, receiveBufferBytes, maxSegmentBytes);
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

TricklingRequests::TricklingRequests(uint16_t port, int count, std::string request,
                                     std::chrono::milliseconds period,
                                     std::chrono::milliseconds maxDuration)
    : request_(std::move(request)) {
  for (int i = 0; i < count; ++i) {
    const int fd = connectTo(port, 0);
    if (fd >= 0) clients_.push_back({fd, std::chrono::steady_clock::now(), std::nullopt, 0});
  }
  thread_ = std::thread([this, period, maxDuration] { run(period, maxDuration); });
}

TricklingRequests::~TricklingRequests() {
  stop();
  for (const Client& c : clients_) {
    if (c.fd >= 0) ::close(c.fd);
  }
}

void TricklingRequests::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void TricklingRequests::run(std::chrono::milliseconds period,
                            std::chrono::milliseconds maxDuration) {
  using Clock = std::chrono::steady_clock;
  const auto until = Clock::now() + maxDuration;
  auto nextSend = Clock::now();
  while (!stop_ && Clock::now() < until) {
    std::vector<pollfd> polls;
    {
      std::lock_guard lock(mu_);
      for (const Client& c : clients_) {
        if (c.fd >= 0) polls.push_back({c.fd, POLLIN, 0});
      }
    }
    if (polls.empty()) return;
    // Closes are seen within 10 ms; the bytes go out every `period`.
    ::poll(polls.data(), polls.size(), 10);
    const auto now = Clock::now();
    const bool sendNow = now >= nextSend;
    if (sendNow) nextSend += period;
    std::lock_guard lock(mu_);
    for (Client& c : clients_) {
      if (c.fd < 0) continue;
      bool closed = false;
      char scratch[4096];
      const ssize_t got = ::recv(c.fd, scratch, sizeof scratch, MSG_DONTWAIT);
      if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) closed = true;
      if (!closed && sendNow && c.sent < request_.size()) {
        if (::send(c.fd, request_.data() + c.sent, 1, MSG_NOSIGNAL | MSG_DONTWAIT) == 1) {
          ++c.sent;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
          closed = true;
        }
      }
      if (closed) {
        ::close(c.fd);
        c.fd = -1;
        c.closedAfter = std::chrono::duration_cast<std::chrono::milliseconds>(now - c.opened);
        changed_.notify_all();
      }
    }
  }
}

std::vector<TricklingRequests::Closed> TricklingRequests::waitForClose(
    std::chrono::milliseconds patience) {
  std::unique_lock lock(mu_);
  changed_.wait_for(lock, patience, [this] {
    for (const Client& c : clients_) {
      if (c.fd >= 0) return false;
    }
    return true;
  });
  std::vector<Closed> out;
  for (const Client& c : clients_) out.push_back({c.closedAfter, c.sent});
  return out;
}

int requestThenLeave(uint16_t port, const std::string& target, int count,
                     std::chrono::milliseconds patience) {
  struct Pending {
    int fd;
    std::chrono::steady_clock::time_point sent;
  };
  std::vector<Pending> open;
  for (int i = 0; i < count; ++i) {
    const int fd = connectTo(port, 0);
    if (fd < 0) continue;
    if (!sendRequest(fd, target)) {
      ::close(fd);
      continue;
    }
    open.push_back({fd, std::chrono::steady_clock::now()});
  }
  int answered = 0;
  while (!open.empty()) {
    std::vector<pollfd> polls;
    for (const Pending& p : open) polls.push_back({p.fd, POLLIN, 0});
    ::poll(polls.data(), polls.size(), 10);
    const auto now = std::chrono::steady_clock::now();
    std::vector<Pending> still;
    for (size_t i = 0; i < open.size(); ++i) {
      if (polls[i].revents != 0) {
        ++answered;
        ::close(open[i].fd);
      } else if (now - open[i].sent >= patience) {
        ::close(open[i].fd);
      } else {
        still.push_back(open[i]);
      }
    }
    open.swap(still);
  }
  return answered;
}

namespace {

std::string errnoText(const std::string& what) {
  return what + ": " + std::strerror(errno);
}

uint16_t localPortOf(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return 0;
  return ntohs(addr.sin_port);
}

}  // namespace

UnreadConnection::UnreadConnection(uint16_t port) : port_(port) {
  // 1 byte asks for the smallest receive buffer Linux allows (about 2 KiB).
  fd_ = connectTo(port, 1, kSmallestSegment);
  if (fd_ < 0) throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
  localPort_ = localPortOf(fd_);
}

UnreadConnection::~UnreadConnection() {
  if (fd_ >= 0) ::close(fd_);
}

void UnreadConnection::send(const std::string& bytes) {
  for (size_t sent = 0; sent < bytes.size();) {
    const ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error(errnoText("send"));
    sent += static_cast<size_t>(n);
  }
}

uint64_t UnreadConnection::bytesWaiting() const {
  int n = 0;
  if (::ioctl(fd_, FIONREAD, &n) != 0) return 0;
  return static_cast<uint64_t>(n);
}

std::string pipelinedRequests(const std::string& target, int count) {
  std::string out;
  for (int i = 0; i < count; ++i) out += "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  return out;
}

size_t keepAliveAnswerBytes(uint16_t port, const std::string& target) {
  const int fd = connectTo(port, 0);
  if (fd < 0) throw std::runtime_error("cannot connect to 127.0.0.1:" + std::to_string(port));
  const std::string request = pipelinedRequests(target, 1);
  std::string raw;
  size_t total = 0;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  bool sent = ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) ==
              static_cast<ssize_t>(request.size());
  while (sent && total == 0 && std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    raw.append(buf, static_cast<size_t>(n));
    const size_t headerEnd = raw.find("\r\n\r\n");
    if (headerEnd == std::string::npos) continue;
    std::string head = raw.substr(0, headerEnd);
    for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    const size_t at = head.find("content-length:");
    if (at == std::string::npos) break;
    const size_t length = std::stoul(head.substr(at + 15));
    if (raw.size() >= headerEnd + 4 + length) total = headerEnd + 4 + length;
  }
  ::close(fd);
  if (total == 0) throw std::runtime_error("no complete answer to GET " + target);
  return total;
}

std::optional<ServerSocket> serverSocket(pid_t pid, const UnreadConnection& connection) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/net/tcp");
  std::string line;
  std::getline(in, line);  // the column names
  while (std::getline(in, line)) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    std::istringstream fields(line);
    std::string sl, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
    fields >> sl >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >>
        inode;
    const auto port = [](const std::string& address) {
      return static_cast<uint16_t>(std::stoul(address.substr(address.find(':') + 1), nullptr, 16));
    };
    if (local.empty() || remote.empty() || port(local) != connection.serverPort() ||
        port(remote) != connection.localPort()) {
      continue;
    }
    ServerSocket out;
    out.established = state == "01";
    out.sendQueue = std::stoull(queues.substr(0, queues.find(':')), nullptr, 16);
    out.receiveQueue = std::stoull(queues.substr(queues.find(':') + 1), nullptr, 16);
    out.inode = inode;
    return out;
  }
  return std::nullopt;
}

uint64_t unwrittenOrUnread(pid_t pid, const UnreadConnection& connection) {
  const auto socket = serverSocket(pid, connection);
  return (socket ? socket->sendQueue : 0) + connection.bytesWaiting();
}

void fillServerSendBuffer(pid_t pid, const UnreadConnection& connection) {
  const auto socket = serverSocket(pid, connection);
  if (!socket) throw std::runtime_error("the server has no socket for this connection");
  const std::string link = "socket:[" + socket->inode + "]";
  int target = -1;
  std::error_code ec;
  const std::filesystem::path dir = "/proc/" + std::to_string(pid) + "/fd";
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    char buf[256];
    const ssize_t n = ::readlink(entry.path().c_str(), buf, sizeof buf - 1);
    if (n > 0 && std::string(buf, static_cast<size_t>(n)) == link) {
      target = std::stoi(entry.path().filename().string());
      break;
    }
  }
  if (target < 0) throw std::runtime_error("no descriptor of the server holds " + link);
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) throw std::runtime_error(errnoText("pidfd_open"));
  const int fd = static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, target, 0));
  const int getfdErrno = errno;
  ::close(pidfd);
  if (fd < 0) {
    errno = getfdErrno;
    throw std::runtime_error(errnoText("pidfd_getfd"));
  }
  const int smallest = 1;  // Linux raises it to its minimum (about 4.5 KiB)
  const int r = ::setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &smallest, sizeof smallest);
  const int setErrno = errno;
  ::close(fd);  // the server's own descriptor stays open
  if (r != 0) {
    errno = setErrno;
    throw std::runtime_error(errnoText("setsockopt(SO_SNDBUF)"));
  }
}

}  // namespace walstream::test
