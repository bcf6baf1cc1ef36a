// Accepts connections and starts an HttpSession, on its own strand, for each.
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <string>

#include "core/file_util.h"
#include "proto/http/listen_address.h"
#include "server/server_context.h"

namespace walstream::server {

class Listener : public std::enable_shared_from_this<Listener> {
 public:
  // Binds and listens at once (proto/http/listening_socket.h); throws walstream::Error naming
  // the address when it cannot.
  Listener(ServerContext& ctx, const httpd::ListenAddress& address);
  // Takes over a socket already listening (httpd::openListeningSocket).
  Listener(ServerContext& ctx, UniqueFd listening);

  boost::asio::ip::tcp::endpoint localEndpoint() const;
  void run();
  void close();  // call on the loop thread

 private:
  void accept();
  // An accept failed (EMFILE and the like): logged once per episode (and again if the reason
  // changes), then retried after 100 ms.
  void acceptFailed(const boost::system::error_code& ec);
  // Starts a session for `socket`, or closes it when --max-connections are open.
  void admit(boost::asio::ip::tcp::socket socket);

  ServerContext& ctx_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::steady_timer retryTimer_;  // backs off after accept errors such as EMFILE
  std::string endpoint_;                  // the bound address, for the log
  bool closed_ = false;
  // The current episode of failed accepts: its first failure, count and the error logged.
  uint64_t acceptFailures_ = 0;
  std::chrono::steady_clock::time_point failingSince_;
  boost::system::error_code failureLogged_;
  bool refusing_ = false;  // the last connection was refused (logged once per episode)
};

}  // namespace walstream::server
