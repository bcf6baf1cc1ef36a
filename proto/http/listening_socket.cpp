#include "proto/http/listening_socket.h"

#include <sys/socket.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <string>

#include "core/error.h"
#include "proto/http/endpoint_text.h"

namespace walstream::httpd {

namespace net = boost::asio;
using net::ip::tcp;

namespace {

tcp::endpoint resolve(tcp::acceptor& acceptor, const ListenAddress& address) {
  if (address.host.empty()) return {tcp::v6(), address.port};
  boost::system::error_code ec;
  const auto ip = net::ip::make_address(address.host, ec);
  if (!ec) return {ip, address.port};
  tcp::resolver resolver(acceptor.get_executor());
  const auto results = resolver.resolve(address.host, std::to_string(address.port), ec);
  if (ec || results.empty()) {
    throw Error("cannot resolve \"" + address.host +
                "\": " + (ec ? ec.message() : std::string("no address")));
  }
  return results.begin()->endpoint();
}

void bindAndListen(tcp::acceptor& acceptor, const tcp::endpoint& endpoint) {
  boost::system::error_code ec;
  auto fail = [&](const char* what) {
    boost::system::error_code ignored;
    acceptor.close(ignored);
    throw Error(std::string("cannot ") + what + " " + endpointText(endpoint) + ": " + ec.message());
  };
  acceptor.open(endpoint.protocol(), ec);
  if (ec) fail("open a socket for");
  acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) fail("set SO_REUSEADDR on");
  if (endpoint.address().is_v6() && endpoint.address().is_unspecified()) {
    // Best effort: where the option is refused, the socket takes what the system allows.
    acceptor.set_option(net::ip::v6_only(false), ec);
    ec.clear();
  }
  acceptor.bind(endpoint, ec);
  if (ec) fail("bind");
  acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) fail("listen on");
}

}  // namespace

void listenAt(tcp::acceptor& acceptor, const ListenAddress& address) {
  const tcp::endpoint endpoint = resolve(acceptor, address);
  try {
    bindAndListen(acceptor, endpoint);
  } catch (const Error&) {
    if (!address.host.empty()) throw;
    bindAndListen(acceptor, tcp::endpoint(tcp::v4(), endpoint.port()));  // a host without IPv6
  }
}

UniqueFd openListeningSocket(const ListenAddress& address) {
  net::io_context io;
  tcp::acceptor acceptor(io);
  listenAt(acceptor, address);
  return UniqueFd(acceptor.release());
}

void adoptListening(tcp::acceptor& acceptor, UniqueFd fd) {
  sockaddr_storage local{};
  socklen_t length = sizeof local;
  if (::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&local), &length) != 0) {
    throwErrno("cannot read the address of listening socket", std::to_string(fd.get()));
  }
  const tcp protocol = local.ss_family == AF_INET6 ? tcp::v6() : tcp::v4();
  boost::system::error_code ec;
  acceptor.assign(protocol, fd.get(), ec);
  if (ec) throw Error("cannot take over a listening socket: " + ec.message());
  [[maybe_unused]] const int owned = fd.release();  // the acceptor closes it now
}

}  // namespace walstream::httpd
