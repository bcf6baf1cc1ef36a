// Binding a server's listening socket to its --http address, the same way for both servers:
//   ":PORT"        one socket on [::] that takes IPv6 and IPv4 (IPV6_V6ONLY off); on a host
//                  without IPv6, 0.0.0.0
//   "HOST:PORT"    that IPv4 address, or the first address the host name resolves to
//   "[IPV6]:PORT"  that IPv6 address only
#pragma once

#include <boost/asio/ip/tcp.hpp>

#include "core/file_util.h"
#include "proto/http/listen_address.h"

namespace walstream::httpd {

// Opens `acceptor` (closed before) with SO_REUSEADDR, binds it and listens. Throws
// walstream::Error naming the address and the reason.
void listenAt(boost::asio::ip::tcp::acceptor& acceptor, const ListenAddress& address);

// A socket bound to `address` and listening, for a server that starts later (a replica's
// --serve-stream): the address is taken, and a port in use reported, when the process starts;
// connections wait in the backlog until the server takes the socket over (adoptListening).
// Throws walstream::Error as listenAt does.
UniqueFd openListeningSocket(const ListenAddress& address);

// Opens `acceptor` (closed before) on the listening socket `fd` made by openListeningSocket,
// which it then owns.
void adoptListening(boost::asio::ip::tcp::acceptor& acceptor, UniqueFd fd);

}  // namespace walstream::httpd
