// The --http ADDR of both servers, as text: ":PORT" (every interface, IPv6 and IPv4),
// "HOST:PORT" (an IPv4 address or a host name) or "[IPV6]:PORT". No sockets here
// (listening_socket.h binds one), so that the command line can check the flag early.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace walstream::httpd {

struct ListenAddress {
  std::string host;   // "" = every interface; an IPv6 address without its brackets
  uint16_t port = 0;  // 0 = any free port
};

// Throws std::invalid_argument naming the text and the form wanted.
ListenAddress parseListenAddress(std::string_view text);

}  // namespace walstream::httpd
