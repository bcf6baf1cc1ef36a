// An endpoint as text, the one spelling used in logs, errors and /status: "1.2.3.4:5" or
// "[::1]:5" (brackets so that the port cannot be read as part of an IPv6 address).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <string>

namespace walstream::httpd {

std::string endpointText(const boost::asio::ip::tcp::endpoint& endpoint);

// The peer of a connected socket, or "unknown" once it is not connected.
std::string remoteEndpointText(const boost::asio::ip::tcp::socket& socket);

}  // namespace walstream::httpd
