#include "server/http_session.h"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include "core/log.h"
#include "proto/http/endpoint_text.h"
#include "proto/http/prometheus_text.h"
#include "proto/http/read_methods.h"
#include "proto/http/server_access.h"
#include "proto/stream_request.h"
#include "server/http_error.h"
#include "server/position_requests.h"
#include "server/query.h"
#include "server/stream_session.h"

namespace walstream::server {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

constexpr size_t kMaxRequestBody = 16 * 1024;
// Bytes of one request held at once. The parser bounds the header (8 KiB) and the body, but not
// the lines of a chunked body's framing (chunk extensions, trailers): without this a request could
// grow the buffer for as long as it keeps sending, on every connection.
constexpr size_t kMaxRequestBuffer = 64 * 1024;
// What the wait for a keep-alive connection's next request reads at most.
constexpr size_t kFirstReadBytes = 4096;

// The answer to a /stream request while --max-streams are open: one line of plain text, and
// Retry-After, since a stream closes soon enough on a busy primary.
httpd::StringResponse streamsFull(const ConnectionCount& streams, unsigned version,
                                  bool keepAlive) {
  httpd::StringResponse res =
      httpd::makeResponse(503, "text/plain; charset=utf-8",
                          "too many streams: " + std::to_string(streams.max()) +
                              " are open (--max-streams); retry later\n",
                          version, keepAlive);
  res.set(http::field::retry_after, "1");
  return res;
}

}  // namespace

HttpSession::HttpSession(std::unique_ptr<httpd::Transport> transport, ServerContext& ctx,
                         ConnectionCount::Slot connection)
    : transport_(std::move(transport)),
      ctx_(ctx),
      buffer_(kMaxRequestBuffer),
      remote_(httpd::remoteEndpointText(transport_->socket())),
      connection_(std::move(connection)) {}

void HttpSession::run() {
  net::dispatch(transport_->get_executor(), [self = shared_from_this()] {
    self->registryId_ = self->ctx_.registry.add(self->weak_from_this());
    if (!self->registryId_) {
      self->end();
      return;
    }
    // The handshake has the request's time bound: a client that connects and says nothing
    // holds a connection no longer with TLS than without.
    self->transport_->expiresAfter(self->ctx_.limits.requestTimeout);
    self->transport_->handshake([self](beast::error_code ec) { self->onHandshake(ec); });
  });
}

void HttpSession::onHandshake(beast::error_code ec) {
  if (ended_) return;
  if (ec) {
    // One line per failed handshake: a port scanner or a misconfigured client, never a secret.
    log::warn("TLS handshake with " + remote_ + " failed: " + transport_->errorText(ec));
    end();
    return;
  }
  readRequest();
}

void HttpSession::close() {
  net::post(transport_->get_executor(), [self = shared_from_this()] { self->end(); });
}

void HttpSession::awaitNextRequest() {
  if (buffer_.size() > 0) {
    readRequest();  // the next request has begun (pipelined behind the last one)
    return;
  }
  // Idle between requests: the first byte of the next one must come within the idle timeout.
  transport_->expiresAfter(ctx_.limits.idleTimeout);
  transport_->async_read_some(buffer_.prepare(kFirstReadBytes),
                              [self = shared_from_this()](beast::error_code ec, size_t n) {
                                if (self->ended_) return;
                                if (ec) {
                                  self->end();  // closed by the client, or idle too long
                                  return;
                                }
                                self->buffer_.commit(n);
                                self->readRequest();
                              });
}

void HttpSession::readRequest() {
  parser_.emplace();
  parser_->body_limit(kMaxRequestBody);
  // One deadline for the whole request, set once: a client that trickles its header in, a byte
  // at a time, is closed at it all the same. Each connection holds a descriptor and one of
  // --max-connections.
  transport_->expiresAfter(ctx_.limits.requestTimeout);
  http::async_read(*transport_, buffer_, *parser_,
                   [self = shared_from_this()](beast::error_code ec, size_t) { self->onRead(ec); });
}

void HttpSession::onRead(beast::error_code ec) {
  if (ended_) return;
  if (ec && !transport_->secure() &&
      httpd::looksLikeTlsHandshake(buffer_.data().data(), buffer_.data().size())) {
    // No answer: the client waits for a TLS handshake, and would read one as garbage.
    log::warn("a TLS client (" + remote_ + ") connected to this plain HTTP port; closed");
    end();
    return;
  }
  if (ec) {
    // A closed or idle connection is normal; a malformed request gets a 400 before closing.
    const bool malformed = ec.category() == beast::error_code(http::error::bad_target).category() &&
                           ec != http::error::end_of_stream && ec != http::error::partial_message;
    if (ec == http::error::buffer_overflow) {
      send(httpd::makeJsonError(400,
                                "malformed HTTP request: more than " +
                                    std::to_string(kMaxRequestBuffer) +
                                    " bytes without a complete request",
                                11, false));
      return;
    }
    if (malformed) {
      send(httpd::makeJsonError(400, "malformed HTTP request: " + ec.message(), 11, false));
      return;
    }
    end();
    return;
  }
  route(parser_->get());
}

bool HttpSession::refusedAsCycle(const http::request<http::string_body>& req,
                                 const StreamQuery& query) {
  const ReplicaChain* chain = ctx_.databases[query.database]->source.replicaChain();
  if (!chain) return false;
  const auto via = req["Walstream-Via"];
  const std::string cycle = chain->cycleWith(std::string_view(via.data(), via.size()));
  if (cycle.empty()) return false;
  send(httpd::makeJsonError(409, cycle, req.version(), req.keep_alive(), false), req.method());
  return true;
}

void HttpSession::route(const http::request<http::string_body>& req) {
  const std::string_view rawTarget(req.target().data(), req.target().size());
  const RequestTarget target = splitTarget(rawTarget);
  const unsigned version = req.version();
  const bool keepAlive = req.keep_alive();
  const auto authorization = req[http::field::authorization];
  if (ctx_.access != nullptr &&
      !ctx_.access->admits(target.path, {authorization.data(), authorization.size()})) {
    send(httpd::makeUnauthorized(version, keepAlive), req.method());
    return;
  }
  if (isPositionPath(target.path)) {
    answerPosition(req, target);
    return;
  }
  const bool known = target.path == proto::kStreamPath || target.path == "/status" ||
                     target.path == "/metrics" || target.path == "/healthz";
  if (!known) {
    send(httpd::makeJsonError(404, "no such path: " + std::string(target.path), version, keepAlive),
         req.method());
    return;
  }
  // HEAD as GET without the body (proto/http/read_methods.h), but on /stream: a stream's
  // headers are known only once its plan is made, and it has no length to announce.
  const bool isStream = target.path == proto::kStreamPath;
  if (isStream ? req.method() != http::verb::get : !httpd::isGetOrHead(req.method())) {
    send(httpd::methodNotAllowed(std::string(req.method_string()), std::string(target.path),
                                 isStream ? "GET" : httpd::kAllowGetAndHead, version, keepAlive),
         req.method());
    return;
  }

  if (isStream) {
    StreamQuery query;
    try {
      query = parseStreamQuery(target.query, ctx_.names);
    } catch (const HttpError& e) {
      send(httpd::makeJsonError(static_cast<unsigned>(e.status()), e.what(), version, keepAlive,
                                e.retryable()),
           req.method());
      return;
    }
    if (refusedAsCycle(req, query)) return;
    ConnectionCount::Slot streamSlot;
    if (!ctx_.streamCount.tryTake(streamSlot)) {
      ctx_.streamsRefused.fetch_add(1);
      send(streamsFull(ctx_.streamCount, version, keepAlive), req.method());
      return;
    }
    // The transport now belongs to the stream, which bounds its writes itself; this session
    // ends without touching it again.
    ended_ = true;
    if (registryId_) ctx_.registry.remove(*registryId_);
    ServedDatabase& db = *ctx_.databases[query.database];
    transport_->expiresNever();
    auto stream =
        std::make_shared<StreamSession>(std::move(transport_), ctx_, db, std::move(query), remote_,
                                        std::move(connection_), std::move(streamSlot));
    stream->start();
    return;
  }
  if (target.path == "/status") {
    send(httpd::makeResponse(200, "application/json", proto::encodeStatusJson(ctx_.status()) + "\n",
                             version, keepAlive),
         req.method());
  } else if (target.path == "/metrics") {
    send(httpd::makeResponse(200, httpd::kPrometheusContentType, ctx_.metricsText(), version,
                             keepAlive),
         req.method());
  } else {
    const std::string reasons = ctx_.unhealthyReasons();
    if (reasons.empty()) {
      send(
          httpd::makeResponse(200, "application/json", "{\"status\":\"ok\"}\n", version, keepAlive),
          req.method());
    } else {
      send(httpd::makeJsonError(503, reasons, version, keepAlive, true), req.method());
    }
  }
}

void HttpSession::answerPosition(const http::request<http::string_body>& req,
                                 const RequestTarget& target) {
  const http::verb method = req.method();
  // A /sync may answer later, from the waiter registry's strand: the answer is sent on this
  // session's executor, unless the session ended meanwhile (the server stopping).
  answerPositionRequest(ctx_, {target.path, target.query, method, req.version(), req.keep_alive()},
                        [self = shared_from_this(), method](httpd::StringResponse res) {
                          net::dispatch(self->transport_->get_executor(),
                                        [self, method, res = std::move(res)]() mutable {
                                          if (!self->ended_) self->send(std::move(res), method);
                                        });
                        });
}

void HttpSession::send(httpd::StringResponse response, http::verb method) {
  httpd::fitToMethod(response, method);
  auto res = std::make_shared<httpd::StringResponse>(std::move(response));
  transport_->expiresAfter(ctx_.limits.writeStallTimeout);
  http::async_write(*transport_, *res,
                    [self = shared_from_this(), res](beast::error_code ec, size_t) {
                      if (self->ended_) return;
                      if (ec || !res->keep_alive()) {
                        self->end();
                        return;
                      }
                      self->awaitNextRequest();
                    });
}

void HttpSession::end() {
  if (ended_) return;
  ended_ = true;
  beast::error_code ignored;
  transport_->socket().shutdown(net::ip::tcp::socket::shutdown_send, ignored);
  transport_->socket().close(ignored);
  connection_.reset();
  if (registryId_) ctx_.registry.remove(*registryId_);
}

}  // namespace walstream::server
