// A small blocking HTTP/1.1 client for tests, on raw sockets to 127.0.0.1: one request per
// connection, status and headers, and a body read as it arrives (Content-Length or chunked),
// every wait bounded by a timeout.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace walstream::test {

struct HttpResponse {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& name) const;  // "" when absent; name in any case
};

// How a response body ended.
enum class BodyEnd {
  kOpen,      // not yet
  kComplete,  // Content-Length reached, or the final zero-size chunk read
  kAborted,   // the connection closed before the body was complete
};

class HttpStream {
 public:
  // Connects, sends `method target`, and reads the status line and headers. Throws
  // std::runtime_error on a connection error, a malformed answer, or after `timeout`.
  // receiveBufferBytes > 0 shrinks the socket's receive buffer (SO_RCVBUF, set before
  // connecting), so that a client that stops reading makes the server's writes stall soon.
  // maxSegmentBytes > 0 announces that segment size (TCP_MAXSEG) when connecting: the server's
  // send buffer, which Linux sizes from the segment size, then holds tens of KiB instead of
  // megabytes on loopback.
  HttpStream(uint16_t port, const std::string& target,
             std::chrono::milliseconds timeout = std::chrono::seconds(10),
             const std::string& method = "GET", int receiveBufferBytes = 0,
             int maxSegmentBytes = 0);
  ~HttpStream();
  HttpStream(const HttpStream&) = delete;
  HttpStream& operator=(const HttpStream&) = delete;

  int status() const { return response_.status; }
  std::string header(const std::string& name) const { return response_.header(name); }
  const HttpResponse& response() const { return response_; }

  // Exactly n body bytes, waiting at most `timeout`. nullopt on timeout or when the body ends
  // first (see end()); the bytes read so far stay buffered for the next call.
  std::optional<std::string> readExact(size_t n, std::chrono::milliseconds timeout);
  // The rest of the body, until it ends or `timeout` passes (then end() stays kOpen).
  std::string readToEnd(std::chrono::milliseconds timeout);
  // Waits (bounded) for the body to end, discarding what arrives; returns how it ended.
  BodyEnd waitForEnd(std::chrono::milliseconds timeout);
  BodyEnd end() const { return end_; }
  size_t bufferedBodyBytes() const { return body_.size(); }

  void close();

 private:
  // Reads more bytes from the socket into raw_; false on timeout. Sets eof_ on close.
  bool receive(std::chrono::steady_clock::time_point deadline);
  // Moves decoded body bytes from raw_ into body_; updates end_.
  void decode();

  int fd_ = -1;
  HttpResponse response_;
  std::string raw_;   // received, not yet decoded
  std::string body_;  // decoded, not yet returned
  bool eof_ = false;
  bool chunked_ = false;
  std::optional<uint64_t> contentLength_;
  uint64_t bodyRead_ = 0;
  uint64_t chunkLeft_ = 0;  // bytes of the current chunk still to decode
  bool inChunk_ = false;    // chunk data (then its CRLF) is being decoded
  BodyEnd end_ = BodyEnd::kOpen;
};

// A whole request: status, headers and the body (until it ends; bounded by `timeout`).
HttpResponse httpRequest(uint16_t port, const std::string& target,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10),
                         const std::string& method = "GET");

}  // namespace walstream::test
