#include "server/listener.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "core/log.h"
#include "proto/http/endpoint_text.h"
#include "proto/http/listening_socket.h"
#include "proto/http/server_access.h"
#include "proto/http/transport.h"
#include "server/http_session.h"

namespace walstream::server {

namespace net = boost::asio;
using boost::system::error_code;
using net::ip::tcp;

Listener::Listener(ServerContext& ctx, const httpd::ListenAddress& address)
    : ctx_(ctx), acceptor_(net::make_strand(ctx.io)), retryTimer_(acceptor_.get_executor()) {
  httpd::listenAt(acceptor_, address);
  endpoint_ = httpd::endpointText(localEndpoint());
}

Listener::Listener(ServerContext& ctx, UniqueFd listening)
    : ctx_(ctx), acceptor_(net::make_strand(ctx.io)), retryTimer_(acceptor_.get_executor()) {
  httpd::adoptListening(acceptor_, std::move(listening));
  endpoint_ = httpd::endpointText(localEndpoint());
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
  std::unique_ptr<httpd::Transport> transport;
  if (ctx_.access != nullptr && ctx_.access->tls() != nullptr) {
    transport = httpd::tlsServerTransport(std::move(socket), *ctx_.access->tls());
  } else {
    transport = httpd::plainTransport(std::move(socket));
  }
  std::make_shared<HttpSession>(std::move(transport), ctx_, std::move(slot))->run();
}

void Listener::accept() {
  acceptor_.async_accept(
      net::make_strand(ctx_.io), [self = shared_from_this()](error_code ec, tcp::socket socket) {
        if (self->closed_) return;
        if (ec) {
          if (ec == net::error::operation_aborted) return;
          self->acceptFailed(ec);
          return;
        }
        if (self->acceptFailures_ > 0) {
          const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - self->failingSince_)
                              .count();
          log::info("accepting connections on " + self->endpoint_ + " again, after " +
                    std::to_string(self->acceptFailures_) + " failed accepts in " +
                    std::to_string(ms) + " ms");
          self->acceptFailures_ = 0;
          self->failureLogged_.clear();
        }
        self->admit(std::move(socket));
        self->accept();
      });
}

void Listener::acceptFailed(const error_code& ec) {
  if (acceptFailures_++ == 0) failingSince_ = std::chrono::steady_clock::now();
  // EMFILE and the like last as long as descriptors are short: said once, not every retry.
  if (ec != failureLogged_) {
    log::warn("cannot accept connections on " + endpoint_ + ": " + ec.message() +
              "; retrying every 100 ms (logged once more when accepts succeed again)");
    failureLogged_ = ec;
  }
  // Wait for descriptors to be freed rather than spin on a listen queue that stays ready.
  retryTimer_.expires_after(std::chrono::milliseconds(100));
  retryTimer_.async_wait([self = shared_from_this()](error_code waitEc) {
    if (!waitEc && !self->closed_) self->accept();
  });
}

}  // namespace walstream::server
