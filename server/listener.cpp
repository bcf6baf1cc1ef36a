#include "server/listener.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "core/error.h"
#include "core/log.h"
#include "server/http_session.h"

namespace walstream::server {

namespace net = boost::asio;
using boost::system::error_code;
using net::ip::tcp;

namespace {

std::string endpointText(const tcp::endpoint& ep) {
  const auto a = ep.address();
  return (a.is_v6() ? "[" + a.to_string() + "]" : a.to_string()) + ":" + std::to_string(ep.port());
}

}  // namespace

Listener::Listener(ServerContext& ctx, const tcp::endpoint& endpoint)
    : ctx_(ctx), acceptor_(net::make_strand(ctx.io)), retryTimer_(acceptor_.get_executor()) {
  error_code ec;
  auto fail = [&](const char* what) {
    throw Error(std::string("cannot ") + what + " " + endpointText(endpoint) + ": " + ec.message());
  };
  acceptor_.open(endpoint.protocol(), ec);
  if (ec) fail("open a socket for");
  acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (ec) fail("set SO_REUSEADDR on");
  if (endpoint.address().is_v6() && endpoint.address().is_unspecified()) {
    acceptor_.set_option(net::ip::v6_only(false), ec);  // ":PORT" serves IPv4 as well
    ec.clear();
  }
  acceptor_.bind(endpoint, ec);
  if (ec) fail("bind");
  acceptor_.listen(net::socket_base::max_listen_connections, ec);
  if (ec) fail("listen on");
}

tcp::endpoint Listener::localEndpoint() const {
  error_code ec;
  return acceptor_.local_endpoint(ec);
}

void Listener::run() {
  net::dispatch(acceptor_.get_executor(), [self = shared_from_this()] { self->accept(); });
}

void Listener::close() {
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    self->closed_ = true;
    error_code ignored;
    self->acceptor_.close(ignored);
    self->retryTimer_.cancel();
  });
}

void Listener::admit(tcp::socket socket) {
  ConnectionCount::Slot slot;
  if (!ctx_.connections.tryTake(slot)) {
    // Closed at once: a connection beyond the cap must not hold a descriptor, and a client
    // seeing the close retries later.
    error_code ignored;
    socket.close(ignored);
    if (!refusing_) {
      log::warn("refusing connections: " + std::to_string(ctx_.connections.max()) +
                " are open (--max-connections)");
    }
    refusing_ = true;
    return;
  }
  if (refusing_) log::info("accepting connections again");
  refusing_ = false;
  std::make_shared<HttpSession>(std::move(socket), ctx_, std::move(slot))->run();
}

void Listener::accept() {
  acceptor_.async_accept(net::make_strand(ctx_.io),
                         [self = shared_from_this()](error_code ec, tcp::socket socket) {
                           if (self->closed_) return;
                           if (ec) {
                             if (ec == net::error::operation_aborted) return;
                             // EMFILE and the like: wait for descriptors to be freed
                             // rather than spin on a listen queue that stays ready.
                             log::warn("accept failed: " + ec.message());
                             self->retryTimer_.expires_after(std::chrono::milliseconds(100));
                             self->retryTimer_.async_wait([self](error_code waitEc) {
                               if (!waitEc && !self->closed_) self->accept();
                             });
                             return;
                           }
                           self->admit(std::move(socket));
                           self->accept();
                         });
}

}  // namespace walstream::server
