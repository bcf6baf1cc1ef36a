// One raw HTTP exchange with a server at any IP address, IPv4 or IPv6 (http_client.h speaks to
// 127.0.0.1 only): the request text as given, and every byte the server sends until it closes,
// so that a test sees exactly what is on the wire (headers, and whether a body follows).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace walstream::test {

// `request` must ask the server to close ("Connection: close"). Throws std::runtime_error when
// `host` is not an IP address, the connection fails, or the server has not closed within
// `timeout`.
std::string httpExchange(const std::string& host, uint16_t port, const std::string& request,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

// "METHOD target HTTP/1.1" with Host and "Connection: close".
std::string closingRequest(const std::string& method, const std::string& target);

}  // namespace walstream::test
