// A minimal blocking HTTP/1.0 request to 127.0.0.1, enough to read the JSON of /status.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "core/file_util.h"

namespace walstream::bench {

// Returns the body of a 200 response. Throws walstream::Error on a connection failure, a
// timeout, or any other status.
std::string httpGet(uint16_t port, const std::string& target, std::chrono::milliseconds timeout);
// The same with another method (e.g. POST, without a body).
std::string httpCall(const std::string& method, uint16_t port, const std::string& target,
                     std::chrono::milliseconds timeout);

// One request in two halves: the constructor connects and sends it, answer() reads the response.
// So a request can be pending at the server (a GET /wait) while the caller does something else,
// and answer() can run on another thread. `timeout` bounds each connect, send and receive call.
class HttpRequestInFlight {
 public:
  HttpRequestInFlight(const std::string& method, uint16_t port, const std::string& target,
                      std::chrono::milliseconds timeout);

  // The body of a 200 response, read until the server closes; throws walstream::Error as
  // httpCall() does. Call once.
  std::string answer();
  // When answer() received the response's first bytes (steady clock).
  std::chrono::steady_clock::time_point firstByteAt() const { return firstByteAt_; }

 private:
  std::string method_;
  std::string where_;
  UniqueFd sock_;
  std::chrono::steady_clock::time_point firstByteAt_{};
};

}  // namespace walstream::bench
