// A minimal blocking HTTP/1.0 request to 127.0.0.1, enough to read the JSON of /status.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace walstream::bench {

// Returns the body of a 200 response. Throws walstream::Error on a connection failure, a
// timeout, or any other status.
std::string httpGet(uint16_t port, const std::string& target, std::chrono::milliseconds timeout);
// The same with another method (e.g. POST, without a body).
std::string httpCall(const std::string& method, uint16_t port, const std::string& target,
                     std::chrono::milliseconds timeout);

}  // namespace walstream::bench
