// One accepted connection: the TLS handshake when the listener is TLS, then reads HTTP/1.1
// requests (keep-alive) and answers /status, /metrics, /healthz, /pos, /sync and errors itself (401
// without a valid token when tokens are required); a valid /stream request hands the transport to a
// StreamSession.
#pragma once

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <memory>
#include <optional>
#include <string>

#include "proto/http/response.h"
#include "proto/http/transport.h"
#include "server/query.h"
#include "server/server_context.h"
#include "server/session_registry.h"

namespace walstream::server {

class HttpSession : public Session, public std::enable_shared_from_this<HttpSession> {
 public:
  // `transport`'s socket must have a strand as its executor.
  HttpSession(std::unique_ptr<httpd::Transport> transport, ServerContext& ctx,
              ConnectionCount::Slot connection);

  void run();
  void close() override;

 private:
  void onHandshake(boost::beast::error_code ec);
  // After an answer on a keep-alive connection: waits up to the idle timeout for the next
  // request's first byte, then reads it (readRequest).
  void awaitNextRequest();
  // Reads one request, within the request timeout.
  void readRequest();
  void onRead(boost::beast::error_code ec);
  void route(const boost::beast::http::request<boost::beast::http::string_body>& req);
  // Answers 409 and returns true when the stream request would close a cycle of replicas
  // (docs/cascading.md §5): its Walstream-Via names the serving replica or one upstream of it.
  bool refusedAsCycle(const boost::beast::http::request<boost::beast::http::string_body>& req,
                      const StreamQuery& query);
  // /pos and /sync (server/position_requests.h).
  void answerPosition(const boost::beast::http::request<boost::beast::http::string_body>& req,
                      const RequestTarget& target);
  // Sends `response` as the answer to a request of `method` (no body to HEAD).
  void send(httpd::StringResponse response,
            boost::beast::http::verb method = boost::beast::http::verb::get);
  void end();

  std::unique_ptr<httpd::Transport> transport_;  // handed to the StreamSession of a /stream
  ServerContext& ctx_;
  boost::beast::flat_buffer buffer_;
  std::optional<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  std::string remote_;
  ConnectionCount::Slot connection_;  // handed to the StreamSession with the socket
  std::optional<uint64_t> registryId_;
  bool ended_ = false;
};

}  // namespace walstream::server
