#include <doctest/doctest.h>

#include "proto/http/endpoint_text.h"

using namespace walstream::httpd;
namespace net = boost::asio;
using net::ip::tcp;

TEST_CASE("endpoints as text: IPv4 plain, IPv6 in brackets") {
  CHECK(endpointText({net::ip::make_address("1.2.3.4"), 5}) == "1.2.3.4:5");
  CHECK(endpointText({net::ip::make_address("::1"), 5}) == "[::1]:5");
  CHECK(endpointText({tcp::v6(), 9090}) == "[::]:9090");
  CHECK(endpointText({net::ip::make_address("::ffff:10.0.0.7"), 51234}) ==
        "[::ffff:10.0.0.7]:51234");
}

TEST_CASE("a socket that is not connected has an unknown peer") {
  net::io_context io;
  tcp::socket socket(io);
  CHECK(remoteEndpointText(socket) == "unknown");
}
