#include "client/status_server.h"

#include <algorithm>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <thread>

#include "client/position_wait.h"
#include "client/replica_metrics_text.h"
#include "core/log.h"
#include "core/printable_text.h"
#include "proto/connection_count.h"
#include "proto/http/endpoint_text.h"
#include "proto/http/listening_socket.h"
#include "proto/http/prometheus_text.h"
#include "proto/http/read_methods.h"
#include "proto/http/response.h"
#include "proto/http/server_access.h"
#include "proto/http/transport.h"
#include "proto/http/waiter_registry.h"
#include "proto/replica_status_json.h"
#include "proto/wait_request.h"

namespace walstream::client {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

// After accept() fails for want of a resource (descriptors, kernel memory), the next accept
// waits this long: the pending connection stays in the backlog, so an immediate retry fails
// again at once, and the loop would spin a core until a descriptor is freed.
constexpr auto kAcceptBackoff = std::chrono::milliseconds(100);

bool isResourceExhaustion(const beast::error_code& ec) {
  return ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space ||
         ec == asio::error::no_memory ||
         ec == beast::error_code(ENFILE, asio::error::get_system_category());
}

// What one request may make the server hold: its head (the parser's default header limit,
// 8 KiB) and a body, which no endpoint reads. The buffer's bound also covers what the parser
// holds of chunk framing, which Boost 1.74 bounds neither by the header limit nor by the body
// limit: a chunk extension or trailer without end fails the request at this size.
constexpr size_t kMaxRequestBufferBytes = 16 * 1024;
constexpr uint64_t kMaxRequestBodyBytes = 4 * 1024;

constexpr std::string_view kWaitPath = "/wait";
constexpr std::string_view kPromotePath = "/promote";
constexpr const char* kTextPlain = "text/plain; charset=utf-8";

using httpd::makeJsonError;
using httpd::makeResponse;
using httpd::StringResponse;

// One request per connection: every answer closes it (see Session).
constexpr bool kKeepAlive = false;

StringResponse statusAnswer(const ReplicaState& state, unsigned version) {
  proto::ReplicaStatusJson status;
  {
    std::lock_guard lock(state.mu);
    status = {state.upstream,
              state.db,
              state.pos.str(),
              state.upstreamPos.str(),
              state.connected,
              state.snapshotsApplied,
              state.transactionsApplied,
              state.lagMillis(),
              state.stalledMillis(),
              state.lastError,
              state.upstreamProtocol};
  }
  return makeResponse(200, "application/json", proto::encodeReplicaStatusJson(status) + "\n",
                      version, kKeepAlive);
}

StringResponse healthAnswer(const ReplicaState& state, unsigned version) {
  std::lock_guard lock(state.mu);
  if (state.refused) {
    return makeJsonError(503, "the primary refuses this replica: " + state.lastError, version,
                         kKeepAlive);
  }
  if (state.snapshotsApplied > 0 || !state.pos.empty()) {
    return makeResponse(200, "application/json", "{\"status\":\"ok\"}\n", version, kKeepAlive);
  }
  return makeJsonError(
      503, "no snapshot applied yet" + (state.lastError.empty() ? "" : ": " + state.lastError),
      version, kKeepAlive);
}

// POST /promote: started at most once in the server's life (docs/promotion.md §5). Touched on
// the server's thread only.
struct PromotionGate {
  PromotionStarter start;  // empty: no /promote
  bool started = false;
  // The session that waits for the promotion's answer, kept alive here (it has no operation
  // pending meanwhile) and so destroyed with the server, before the connection count its slot
  // returns to. The PromotionReply holds it weakly: a reply that outlives the server is a no-op.
  std::shared_ptr<void> waiting;
};

// A request the session answers later: a valid GET /wait when `wait` is set, a POST /promote.
struct Deferred {
  std::optional<proto::WaitRequest> wait;
  bool promote = false;
};

// A GET /wait (client/position_wait.h): parsed, or its 400.
StringResponse parseWait(std::string_view query, unsigned version,
                         std::optional<proto::WaitRequest>& wait) {
  try {
    wait = proto::parseWaitRequest(query, {"pos", "timeout"});
  } catch (const proto::WaitRequestError& e) {
    return makeJsonError(400, e.what(), version, kKeepAlive);
  }
  return {};
}

// The answer to the request, or, for a valid GET /wait and a POST /promote, `deferred` set and
// an empty answer: the session answers when the wait or the promotion ends.
StringResponse route(const http::request<http::string_body>& req, const ReplicaState& state,
                     const httpd::ServerAccess* access, bool promotes, Deferred& deferred) {
  const unsigned version = req.version();
  const std::string target(req.target());
  const std::string path = target.substr(0, target.find('?'));
  const auto authorization = req[http::field::authorization];
  if (access != nullptr && !access->admits(path, {authorization.data(), authorization.size()})) {
    return httpd::makeUnauthorized(version, kKeepAlive);
  }
  const bool known = path == "/status" || path == "/healthz" || path == "/metrics" ||
                     path == kWaitPath || (promotes && path == kPromotePath);
  if (!known) {
    return makeJsonError(404, "no such path: " + printableText(path, 256), version, kKeepAlive);
  }
  if (path == kPromotePath) {
    if (req.method() != http::verb::post) {
      return httpd::methodNotAllowed(printableText(std::string(req.method_string()), 32), path,
                                     "POST", version, kKeepAlive);
    }
    deferred.promote = true;
    return {};
  }
  if (!httpd::isGetOrHead(req.method())) {
    return httpd::methodNotAllowed(printableText(std::string(req.method_string()), 32), path,
                                   httpd::kAllowGetAndHead, version, kKeepAlive);
  }
  if (path == kWaitPath) {
    const size_t q = target.find('?');
    return parseWait(
        q == std::string::npos ? std::string_view() : std::string_view(target).substr(q + 1),
        version, deferred.wait);
  }
  if (path == "/status") return statusAnswer(state, version);
  if (path == "/healthz") return healthAnswer(state, version);
  return makeResponse(200, httpd::kPrometheusContentType, renderReplicaMetrics(state), version,
                      kKeepAlive);
}

// The request target is the client's: anything echoed from it is escaped (printable_text.h).
StringResponse respond(const http::request<http::string_body>& req, const ReplicaState& state,
                       const httpd::ServerAccess* access, bool promotes, Deferred& deferred) {
  StringResponse res;
  try {
    res = route(req, state, access, promotes, deferred);
    if (deferred.wait || deferred.promote) return res;
  } catch (const std::exception& e) {
    // No request may take the replica down: whatever failed is this request's alone.
    log::warn(std::string("replica status: request failed: ") + e.what());
    res = makeJsonError(500, "internal error", req.version(), kKeepAlive);
  }
  httpd::fitToMethod(res, req.method());
  return res;
}

// One request per connection (Connection: close): status requests are rare and tiny. The TLS
// handshake, when there is one, and the request share one deadline, set once when the
// connection is accepted: bytes that trickle in do not push it back.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::unique_ptr<httpd::Transport> transport, const ReplicaState& state,
          httpd::WaiterRegistry& waiters, PromotionGate& promotion,
          std::shared_ptr<const httpd::ServerAccess> access, proto::ConnectionCount::Slot slot,
          std::chrono::milliseconds requestTimeout)
      : slot_(std::move(slot)),
        requestTimeout_(requestTimeout),
        transport_(std::move(transport)),
        state_(state),
        waiters_(waiters),
        promotion_(promotion),
        access_(std::move(access)) {
    parser_.body_limit(kMaxRequestBodyBytes);
  }

  void start() {
    transport_->expiresAfter(requestTimeout_);
    transport_->handshake([self = shared_from_this()](beast::error_code ec) {
      if (ec) {
        log::warn("replica status: TLS handshake with " +
                  httpd::remoteEndpointText(self->transport_->socket()) +
                  " failed: " + self->transport_->errorText(ec));
        return;
      }
      self->readRequest();
    });
  }

 private:
  void readRequest() {
    // A request beyond the bounds (buffer_overflow, body_limit) is dropped unanswered, as a
    // malformed one is.
    http::async_read(
        *transport_, buffer_, parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) {
            self->noteTlsOnPlainPort();
            return;
          }
          Deferred deferred;
          StringResponse res = respond(self->parser_.get(), self->state_, self->access_.get(),
                                       static_cast<bool>(self->promotion_.start), deferred);
          if (deferred.wait) {
            self->startWait(*deferred.wait);
          } else if (deferred.promote) {
            self->startPromotion();
          } else {
            self->answer(std::move(res));
          }
        });
  }

  // `written` runs once the answer is written or its write failed.
  void answer(StringResponse res, std::function<void()> written = {}) {
    res_ = std::move(res);
    // The deadline set at accept bounds the request; after a wait, the answer gets one of its own.
    transport_->expiresAfter(requestTimeout_);
    http::async_write(
        *transport_, res_,
        [self = shared_from_this(), written = std::move(written)](beast::error_code, size_t) {
          beast::error_code ignored;
          self->transport_->socket().shutdown(tcp::socket::shutdown_send, ignored);
          if (written) written();
        });
  }

  // Hands the promotion to the replica's thread (PromotionStarter); its PromotionReply answers
  // this connection. Only the first POST /promote in the server's life promotes.
  void startPromotion() {
    const unsigned version = parser_.get().version();
    if (promotion_.started) {
      answer(makeResponse(409, kTextPlain, "a promotion of this replica is already running\n",
                          version, kKeepAlive));
      return;
    }
    promotion_.started = true;
    log::info("replica status: POST /promote from " +
              httpd::remoteEndpointText(transport_->socket()));
    promotion_.waiting = shared_from_this();
    auto written = std::make_shared<std::promise<void>>();
    std::shared_future<void> done = written->get_future().share();
    promotion_.start([weak = weak_from_this(), written, done, version,
                      timeout = requestTimeout_](const PromotionAnswer& a) {
      const std::shared_ptr<Session> self = weak.lock();
      if (!self) return;
      StringResponse res = makeResponse(a.status, kTextPlain, a.body, version, kKeepAlive);
      asio::dispatch(self->transport_->get_executor(),
                     [self, written, res = std::move(res)]() mutable {
                       self->answer(std::move(res), [written] { written->set_value(); });
                     });
      done.wait_for(timeout);
    });
  }

  // Waits in the registry, without a thread, until the applier publishes the position (or the
  // timeout passes); beyond --max-waiters, 503 at once.
  void startWait(const proto::WaitRequest& wait) {
    const unsigned version = parser_.get().version();
    const http::verb method = parser_.get().method();
    const Pos wanted = *wait.pos;
    const std::string timeout = proto::waitTimeoutText(wait.timeout);
    auto standing = std::make_shared<WaitStanding>();
    auto check = [&state = state_, wanted, standing] {
      *standing = judgeWait(state, wanted);
      return standing->verdict != WaitVerdict::kNotYet;
    };
    auto done = [self = shared_from_this(), standing, wanted, timeout, version,
                 method](httpd::WaiterRegistry::End end) {
      // A publish whose re-check had not run yet when the timer fired still counts.
      if (end == httpd::WaiterRegistry::End::kTimedOut) *standing = judgeWait(self->state_, wanted);
      StringResponse res;
      if (end == httpd::WaiterRegistry::End::kClosed) {
        res = makeJsonError(503, "the replica is stopping", version, kKeepAlive, true);
      } else {
        const WaitAnswer a = waitAnswer(*standing, wanted, timeout);
        res = a.status == 200 ? makeResponse(200, "application/json", a.body, version, kKeepAlive)
                              : makeJsonError(a.status, a.body, version, kKeepAlive);
      }
      httpd::fitToMethod(res, method);
      asio::dispatch(self->transport_->get_executor(),
                     [self, res = std::move(res)]() mutable { self->answer(std::move(res)); });
    };
    if (waiters_.wait(std::move(check), wait.timeout, std::move(done))) return;
    StringResponse res =
        makeJsonError(503,
                      "too many requests waiting: " + std::to_string(waiters_.maxWaiters()) +
                          " /wait requests wait already (--max-waiters); retry later",
                      version, kKeepAlive);
    res.set(http::field::retry_after, "1");
    httpd::fitToMethod(res, method);
    answer(std::move(res));
  }

  // Logs a TLS client that reached this plain port: it waits for a handshake and sees a close.
  void noteTlsOnPlainPort() {
    if (transport_->secure() ||
        !httpd::looksLikeTlsHandshake(buffer_.data().data(), buffer_.data().size())) {
      return;
    }
    log::warn("replica status: a TLS client (" + httpd::remoteEndpointText(transport_->socket()) +
              ") connected to this plain HTTP port; closed");
  }

  proto::ConnectionCount::Slot slot_;  // first, so released last: after the socket is closed
  const std::chrono::milliseconds requestTimeout_;
  std::unique_ptr<httpd::Transport> transport_;
  beast::flat_buffer buffer_{kMaxRequestBufferBytes};
  http::request_parser<http::string_body> parser_;
  StringResponse res_;
  const ReplicaState& state_;
  httpd::WaiterRegistry& waiters_;
  PromotionGate& promotion_;
  std::shared_ptr<const httpd::ServerAccess> access_;
};

}  // namespace

struct StatusServer::Impl {
  // Before the io_context, so destroyed after it: sessions still pending when the server stops
  // are destroyed with the io_context and return their slots here.
  proto::ConnectionCount connections;
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  asio::steady_timer acceptDelay{ioc};
  bool acceptStarved = false;  // logged once per run of failed accepts
  bool refusing = false;       // logged once per run of connections beyond the cap
  const ReplicaState& state;
  const std::chrono::milliseconds requestTimeout;
  const std::shared_ptr<const httpd::ServerAccess> access;
  httpd::WaiterRegistry waiters;
  PromotionGate promotion;  // after connections: its session is destroyed first
  std::thread thread;

  Impl(const ReplicaState& s, size_t maxConnections, size_t maxWaiters,
       std::chrono::milliseconds timeout, std::shared_ptr<const httpd::ServerAccess> serverAccess)
      : connections(maxConnections),
        state(s),
        requestTimeout(timeout),
        access(std::move(serverAccess)),
        waiters(ioc.get_executor(), maxWaiters) {}

  // Starts a session for `sock`, or closes it at once when maxConnections are open: a
  // connection beyond the cap must not hold a descriptor that LOCAL_DB or the stream needs.
  void admit(tcp::socket sock) {
    proto::ConnectionCount::Slot slot;
    if (!connections.tryTake(slot)) {
      beast::error_code ignored;
      sock.close(ignored);
      if (!refusing) {
        log::warn("replica status: refusing connections: " + std::to_string(connections.max()) +
                  " are open (--max-connections)");
      }
      refusing = true;
      return;
    }
    if (refusing) log::info("replica status: accepting connections again");
    refusing = false;
    std::unique_ptr<httpd::Transport> transport =
        access && access->tls() ? httpd::tlsServerTransport(std::move(sock), *access->tls())
                                : httpd::plainTransport(std::move(sock));
    std::make_shared<Session>(std::move(transport), state, waiters, promotion, access,
                              std::move(slot), requestTimeout)
        ->start();
  }

  void accept() {
    acceptor.async_accept(asio::make_strand(ioc), [this](beast::error_code ec, tcp::socket sock) {
      if (ec == asio::error::operation_aborted) return;
      if (isResourceExhaustion(ec)) {
        if (!acceptStarved)
          log::warn("replica status: cannot accept a connection: " + ec.message());
        acceptStarved = true;
        acceptDelay.expires_after(kAcceptBackoff);
        acceptDelay.async_wait([this](beast::error_code waitEc) {
          if (waitEc != asio::error::operation_aborted) accept();
        });
        return;
      }
      if (!ec) {
        acceptStarved = false;
        admit(std::move(sock));
      }
      accept();
    });
  }

  // An exception escaping a handler ends io_context::run(); the context may be run again, so
  // one failed request never stops the endpoints (and never reaches std::terminate).
  void run() {
    for (;;) {
      try {
        ioc.run();
        return;
      } catch (const std::exception& e) {
        log::warn(std::string("replica status: ") + e.what());
      }
    }
  }
};

size_t defaultMaxStatusConnections(unsigned long fileLimit) {
  const unsigned long left = fileLimit > kStatusFileReserve ? fileLimit - kStatusFileReserve : 0;
  return std::clamp<size_t>(left / 2, 1, 1024);
}

StatusServer::StatusServer(const httpd::ListenAddress& address, ReplicaState& state,
                           const StatusServerLimits& limits,
                           std::shared_ptr<const httpd::ServerAccess> access,
                           PromotionStarter promote)
    : impl_(std::make_unique<Impl>(state, limits.maxConnections, limits.maxWaiters,
                                   limits.requestTimeout, std::move(access))),
      state_(state) {
  impl_->promotion.start = std::move(promote);
  httpd::listenAt(impl_->acceptor, address);
  impl_->accept();
  state_.setPositionListener([waiters = &impl_->waiters] { waiters->notify(); });
  impl_->thread = std::thread([m = impl_.get()] { m->run(); });
}

StatusServer::~StatusServer() {
  state_.setPositionListener({});
  impl_->ioc.stop();
  impl_->thread.join();
}

size_t StatusServer::maxConnections() const {
  return impl_->connections.max();
}

std::string StatusServer::address() const {
  const bool tls = impl_->access && impl_->access->tls();
  return std::string(tls ? "https://" : "http://") +
         httpd::endpointText(impl_->acceptor.local_endpoint());
}

}  // namespace walstream::client
