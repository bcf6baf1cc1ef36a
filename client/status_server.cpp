#include "client/status_server.h"

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/error.h"
#include "core/log.h"
#include "core/printable_text.h"
#include "proto/connection_count.h"
#include "proto/json_text.h"

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

using Response = http::response<http::string_body>;

void setJson(Response& res, http::status status, const nlohmann::json& body) {
  res.result(status);
  res.set(http::field::content_type, "application/json");
  res.body() = proto::jsonText(body) + "\n";
}

void respondStatus(Response& res, const ReplicaState& state) {
  std::lock_guard lock(state.mu);
  setJson(res, http::status::ok,
          {{"upstream", state.upstream},
           {"db", state.db},
           {"pos", state.pos.str()},
           {"upstream_pos", state.upstreamPos.empty() ? std::string() : state.upstreamPos.str()},
           {"connected", state.connected},
           {"snapshots_applied", state.snapshotsApplied},
           {"transactions_applied", state.transactionsApplied},
           {"lag_ms", state.lagMillis()},
           {"stalled_ms", state.stalledMillis()},
           {"last_error", state.lastError}});
}

void respondHealth(Response& res, const ReplicaState& state) {
  std::lock_guard lock(state.mu);
  if (state.refused) {
    setJson(res, http::status::service_unavailable,
            {{"error", "the primary refuses this replica: " + state.lastError}});
  } else if (state.snapshotsApplied > 0 || !state.pos.empty()) {
    setJson(res, http::status::ok, {{"status", "ok"}});
  } else {
    setJson(res, http::status::service_unavailable,
            {{"error", "no snapshot applied yet" +
                           (state.lastError.empty() ? "" : ": " + state.lastError)}});
  }
}

void respondMetrics(Response& res, const ReplicaState& state) {
  std::lock_guard lock(state.mu);
  std::string m;
  auto metric = [&](const char* name, const char* type, const char* help, auto value) {
    m += std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " " + type + "\n" +
         name + " " + std::to_string(value) + "\n";
  };
  metric("walstream_replica_connected", "gauge", "1 while streaming from the primary.",
         state.connected ? 1 : 0);
  metric("walstream_replica_snapshots_applied_total", "counter", "Snapshots applied.",
         state.snapshotsApplied);
  metric("walstream_replica_transactions_applied_total", "counter", "Primary transactions applied.",
         state.transactionsApplied);
  metric("walstream_replica_segments_applied_total", "counter", "WAL segments applied.",
         state.segmentsApplied);
  metric("walstream_replica_received_bytes_total", "counter", "Stream bytes received.",
         state.bytesReceived);
  metric("walstream_replica_disconnects_total", "counter", "Stream disconnects.", state.reconnects);
  metric("walstream_replica_checkpoints_total", "counter", "Checkpoints of the local WAL.",
         state.checkpoints);
  metric("walstream_replica_lag_milliseconds", "gauge",
         "Age of the newest applied data while behind (-1 before the first catch-up).",
         state.lagMillis());
  metric("walstream_replica_stalled_milliseconds", "gauge",
         "How long the replica has made no progress while the primary claims more (0 if not).",
         state.stalledMillis());
  metric("walstream_replica_index", "gauge", "WAL index of the applied position.", state.pos.index);
  metric("walstream_replica_offset", "gauge", "WAL offset of the applied position.",
         state.pos.offset);
  res.result(http::status::ok);
  res.set(http::field::content_type, "text/plain; version=0.0.4");
  res.body() = std::move(m);
}

// The request target is the client's: anything echoed from it is escaped (printable_text.h).
Response respond(const http::request<http::string_body>& req, const ReplicaState& state) {
  Response res;
  res.version(req.version());
  res.keep_alive(false);
  try {
    const std::string target(req.target());
    const std::string path = target.substr(0, target.find('?'));
    if (req.method() != http::verb::get && req.method() != http::verb::head) {
      setJson(res, http::status::method_not_allowed, {{"error", "method not allowed"}});
      res.set(http::field::allow, "GET, HEAD");
    } else if (path == "/status") {
      respondStatus(res, state);
    } else if (path == "/healthz") {
      respondHealth(res, state);
    } else if (path == "/metrics") {
      respondMetrics(res, state);
    } else {
      setJson(res, http::status::not_found,
              {{"error", "no such endpoint: " + printableText(path, 256)}});
    }
  } catch (const std::exception& e) {
    // No request may take the replica down: whatever failed is this request's alone.
    log::warn(std::string("replica status: request failed: ") + e.what());
    res = Response();
    res.version(req.version());
    res.keep_alive(false);
    res.result(http::status::internal_server_error);
    res.set(http::field::content_type, "application/json");
    res.body() = "{\"error\":\"internal error\"}\n";
  }
  res.prepare_payload();
  if (req.method() == http::verb::head) res.body().clear();
  return res;
}

// One request per connection (Connection: close): status requests are rare and tiny.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const ReplicaState& state, proto::ConnectionCount::Slot slot)
      : slot_(std::move(slot)), stream_(std::move(socket)), state_(state) {
    parser_.body_limit(kMaxRequestBodyBytes);
  }

  void start() {
    stream_.expires_after(std::chrono::seconds(10));
    // A request beyond the bounds (buffer_overflow, body_limit) is dropped unanswered, as a
    // malformed one is.
    http::async_read(
        stream_, buffer_, parser_, [self = shared_from_this()](beast::error_code ec, size_t) {
          if (ec) return;
          self->res_ = respond(self->parser_.get(), self->state_);
          http::async_write(self->stream_, self->res_, [self](beast::error_code, size_t) {
            beast::error_code ignored;
            self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
          });
        });
  }

 private:
  proto::ConnectionCount::Slot slot_;  // first, so released last: after the socket is closed
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_{kMaxRequestBufferBytes};
  http::request_parser<http::string_body> parser_;
  http::response<http::string_body> res_;
  const ReplicaState& state_;
};

}  // namespace

struct StatusServer::Impl {
  asio::io_context ioc{1};
  tcp::acceptor acceptor{ioc};
  asio::steady_timer acceptDelay{ioc};
  bool acceptStarved = false;  // logged once per run of failed accepts
  bool refusing = false;       // logged once per run of connections beyond the cap
  const ReplicaState& state;
  proto::ConnectionCount connections;
  std::thread thread;

  Impl(const ReplicaState& s, size_t maxConnections) : state(s), connections(maxConnections) {}

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
    std::make_shared<Session>(std::move(sock), state, std::move(slot))->start();
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

StatusServer::StatusServer(const std::string& host, uint16_t port, const ReplicaState& state,
                           size_t maxConnections)
    : impl_(std::make_unique<Impl>(state, maxConnections)) {
  beast::error_code ec;
  const auto addr = asio::ip::make_address(host.empty() ? "0.0.0.0" : host, ec);
  if (ec) throw Error("invalid --http address \"" + host + "\": " + ec.message());
  const tcp::endpoint ep(addr, port);
  impl_->acceptor.open(ep.protocol(), ec);
  if (!ec) impl_->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(ep, ec);
  if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw Error("cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message());
  }
  impl_->accept();
  impl_->thread = std::thread([m = impl_.get()] { m->run(); });
}

StatusServer::~StatusServer() {
  impl_->ioc.stop();
  impl_->thread.join();
}

size_t StatusServer::maxConnections() const {
  return impl_->connections.max();
}

std::string StatusServer::address() const {
  const auto ep = impl_->acceptor.local_endpoint();
  const std::string host =
      ep.address().is_v6() ? "[" + ep.address().to_string() + "]" : ep.address().to_string();
  return "http://" + host + ":" + std::to_string(ep.port());
}

}  // namespace walstream::client
