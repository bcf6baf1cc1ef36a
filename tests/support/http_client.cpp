#include "tests/support/http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "tests/support/time_scale.h"

namespace walstream::test {

namespace {

using Clock = std::chrono::steady_clock;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

}  // namespace

std::string HttpResponse::header(const std::string& name) const {
  auto it = headers.find(lower(name));
  return it == headers.end() ? "" : it->second;
}

HttpStream::HttpStream(uint16_t port, const std::string& target, std::chrono::milliseconds timeout,
                       const std::string& method, int receiveBufferBytes, int maxSegmentBytes) {
  const auto deadline = Clock::now() + scaled(timeout);
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw std::runtime_error("socket: " + std::string(std::strerror(errno)));
  if (receiveBufferBytes > 0) {
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receiveBufferBytes, sizeof receiveBufferBytes);
  }
  if (maxSegmentBytes > 0) {
    ::setsockopt(fd_, IPPROTO_TCP, TCP_MAXSEG, &maxSegmentBytes, sizeof maxSegmentBytes);
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const std::string err = std::strerror(errno);
    close();
    throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + ": " + err);
  }
  const std::string request = method + " " + target +
                              " HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: walstream-test\r\n"
                              "Connection: close\r\n\r\n";
  for (size_t sent = 0; sent < request.size();) {
    ssize_t n = ::send(fd_, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) throw std::runtime_error("send: " + std::string(std::strerror(errno)));
    sent += static_cast<size_t>(n);
  }
  size_t headerEnd;
  while ((headerEnd = raw_.find("\r\n\r\n")) == std::string::npos) {
    if (eof_) throw std::runtime_error("connection closed before the response headers");
    if (!receive(deadline)) throw std::runtime_error("timed out waiting for response headers");
  }
  const std::string head = raw_.substr(0, headerEnd);
  raw_.erase(0, headerEnd + 4);
  size_t lineEnd = head.find("\r\n");
  const std::string statusLine = head.substr(0, lineEnd);
  if (statusLine.rfind("HTTP/1.", 0) != 0 || statusLine.size() < 12) {
    throw std::runtime_error("malformed status line: " + statusLine);
  }
  response_.status = std::stoi(statusLine.substr(9, 3));
  while (lineEnd != std::string::npos) {
    size_t next = head.find("\r\n", lineEnd + 2);
    std::string line = head.substr(
        lineEnd + 2, next == std::string::npos ? std::string::npos : next - lineEnd - 2);
    lineEnd = next;
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    response_.headers[lower(trim(line.substr(0, colon)))] = trim(line.substr(colon + 1));
  }
  chunked_ = lower(response_.header("transfer-encoding")).find("chunked") != std::string::npos;
  if (!chunked_ && !response_.header("content-length").empty()) {
    contentLength_ = std::stoull(response_.header("content-length"));
  }
  decode();
}

HttpStream::~HttpStream() {
  close();
}

void HttpStream::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool HttpStream::receive(Clock::time_point deadline) {
  if (fd_ < 0 || eof_) return false;
  pollfd p{fd_, POLLIN, 0};
  int r = ::poll(&p, 1, remainingMs(deadline));
  if (r == 0) return false;
  if (r < 0) {
    if (errno == EINTR) return true;
    throw std::runtime_error("poll: " + std::string(std::strerror(errno)));
  }
  char buf[64 * 1024];
  ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
  if (n < 0) {
    if (errno == EINTR || errno == EAGAIN) return true;
    if (errno == ECONNRESET) {
      eof_ = true;
      return true;
    }
    throw std::runtime_error("recv: " + std::string(std::strerror(errno)));
  }
  if (n == 0) {
    eof_ = true;
  } else {
    raw_.append(buf, static_cast<size_t>(n));
  }
  return true;
}

void HttpStream::decode() {
  if (end_ != BodyEnd::kOpen) return;
  if (!chunked_) {
    size_t take = raw_.size();
    if (contentLength_) take = std::min<uint64_t>(take, *contentLength_ - bodyRead_);
    body_.append(raw_, 0, take);
    raw_.erase(0, take);
    bodyRead_ += take;
    if (contentLength_ && bodyRead_ == *contentLength_) {
      end_ = BodyEnd::kComplete;
    } else if (eof_) {
      end_ = contentLength_ ? BodyEnd::kAborted : BodyEnd::kComplete;
    }
    return;
  }
  for (;;) {
    if (inChunk_) {
      if (chunkLeft_ > 0) {
        size_t take = static_cast<size_t>(std::min<uint64_t>(raw_.size(), chunkLeft_));
        body_.append(raw_, 0, take);
        raw_.erase(0, take);
        chunkLeft_ -= take;
        bodyRead_ += take;
        if (chunkLeft_ > 0) break;
      }
      if (raw_.size() < 2) break;
      if (raw_.compare(0, 2, "\r\n") != 0) throw std::runtime_error("chunk not followed by CRLF");
      raw_.erase(0, 2);
      inChunk_ = false;
    }
    size_t lineEnd = raw_.find("\r\n");
    if (lineEnd == std::string::npos) break;
    const std::string sizeText = raw_.substr(0, raw_.find_first_of(";\r"));
    uint64_t size = 0;
    try {
      size = std::stoull(sizeText, nullptr, 16);
    } catch (const std::exception&) {
      throw std::runtime_error("malformed chunk size \"" + sizeText + "\"");
    }
    if (size == 0) {
      // The last chunk, then optional trailers and an empty line.
      size_t trailerEnd = raw_.find("\r\n\r\n");
      if (trailerEnd == std::string::npos) break;
      raw_.erase(0, trailerEnd + 4);
      end_ = BodyEnd::kComplete;
      return;
    }
    raw_.erase(0, lineEnd + 2);
    chunkLeft_ = size;
    inChunk_ = true;
  }
  if (eof_) end_ = BodyEnd::kAborted;
}

std::optional<std::string> HttpStream::readExact(size_t n, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    decode();
    if (body_.size() >= n) {
      std::string out = body_.substr(0, n);
      body_.erase(0, n);
      return out;
    }
    if (end_ != BodyEnd::kOpen) return std::nullopt;
    if (!receive(deadline) && !eof_) return std::nullopt;
  }
}

std::string HttpStream::readToEnd(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    decode();
    if (end_ != BodyEnd::kOpen) break;
    if (!receive(deadline) && !eof_) break;
  }
  std::string out = std::move(body_);
  body_.clear();
  return out;
}

BodyEnd HttpStream::waitForEnd(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    decode();
    body_.clear();
    if (end_ != BodyEnd::kOpen) return end_;
    if (!receive(deadline) && !eof_) return BodyEnd::kOpen;
  }
}

HttpResponse httpRequest(uint16_t port, const std::string& target,
                         std::chrono::milliseconds timeout, const std::string& method) {
  HttpStream s(port, target, timeout, method);
  HttpResponse out = s.response();
  out.body = s.readToEnd(timeout);
  return out;
}

}  // namespace walstream::test
