// Binding a server's listening socket to its --http address, the same way for both servers:
//   ":PORT"        one socket on [::] that takes IPv6 and IPv4 (IPV6_V6ONLY off); on a host
//                  without IPv6, 0.0.0.0
//   "HOST:PORT"    that IPv4 address, or the first address the host name resolves to
//   "[IPV6]:PORT"  that IPv6 address only
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include "proto/http/listen_address.h"

namespace walstream::httpd {

// Opens `acceptor` (closed before) with SO_REUSEADDR, binds it and listens. Throws
// walstream::Error naming the address and the reason.
void listenAt(boost::asio::ip::tcp::acceptor& acceptor, const ListenAddress& address);

}  // namespace walstream::httpd
