#include <doctest/doctest.h>

#include <boost/asio/io_context.hpp>
#include <string>

#include "core/error.h"
#include "proto/http/endpoint_text.h"
#include "proto/http/listening_socket.h"

using namespace walstream;
using namespace walstream::httpd;
namespace net = boost::asio;
using net::ip::tcp;

namespace {

// Whether this host can bind ::1 (IPv6 may be disabled in a container).
bool ipv6Loopback() {
  net::io_context io;
  tcp::acceptor probe(io);
  boost::system::error_code ec;
  probe.open(tcp::v6(), ec);
  if (!ec) probe.bind({net::ip::make_address("::1"), 0}, ec);
  return !ec;
}

// Connects to the acceptor's port at `host` and accepts the connection; false when refused.
bool reachableAt(net::io_context& io, tcp::acceptor& acceptor, const std::string& host) {
  tcp::socket client(io);
  boost::system::error_code ec;
  client.connect({net::ip::make_address(host), acceptor.local_endpoint().port()}, ec);
  if (ec) return false;
  tcp::socket served(io);
  acceptor.accept(served, ec);
  return !ec;
}

}  // namespace

TEST_CASE("every form of listen address binds: :PORT, IPv4, host name, [IPv6]") {
  net::io_context io;
  SUBCASE(":0 takes IPv4 connections, on a dual-stack socket where IPv6 exists") {
    tcp::acceptor acceptor(io);
    listenAt(acceptor, {"", 0});
    CHECK(acceptor.local_endpoint().address().is_unspecified());
    CHECK(acceptor.local_endpoint().port() != 0);
    CHECK(reachableAt(io, acceptor, "127.0.0.1"));
    if (ipv6Loopback()) {
      CHECK(acceptor.local_endpoint().address().is_v6());
      CHECK(reachableAt(io, acceptor, "::1"));
    }
  }
  SUBCASE("127.0.0.1:0") {
    tcp::acceptor acceptor(io);
    listenAt(acceptor, {"127.0.0.1", 0});
    CHECK(endpointText(acceptor.local_endpoint()).rfind("127.0.0.1:", 0) == 0);
    CHECK(reachableAt(io, acceptor, "127.0.0.1"));
  }
  SUBCASE("localhost:0 resolves") {
    tcp::acceptor acceptor(io);
    listenAt(acceptor, {"localhost", 0});
    CHECK(acceptor.local_endpoint().address().is_loopback());
  }
  SUBCASE("[::1]:0") {
    if (!ipv6Loopback()) {
      MESSAGE("no IPv6 loopback on this host: skipped");
      return;
    }
    tcp::acceptor acceptor(io);
    listenAt(acceptor, {"::1", 0});
    CHECK(endpointText(acceptor.local_endpoint()).rfind("[::1]:", 0) == 0);
    CHECK(reachableAt(io, acceptor, "::1"));
  }
}

TEST_CASE("an address that cannot be bound is an error naming it") {
  net::io_context io;
  tcp::acceptor first(io);
  listenAt(first, {"127.0.0.1", 0});
  const std::string taken = endpointText(first.local_endpoint());
  tcp::acceptor second(io);
  try {
    listenAt(second, {"127.0.0.1", first.local_endpoint().port()});
    FAIL("bound a port in use");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "cannot bind " + taken + ": Address already in use");
  }
  CHECK_FALSE(second.is_open());
  try {
    listenAt(second, {"no-such-host.invalid", 0});
    FAIL("resolved a name that does not exist");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).rfind("cannot resolve \"no-such-host.invalid\": ", 0) == 0);
  }
}
