// The replica's HTTP endpoints (--http ADDR): /status (JSON, proto/replica_status_json.h),
// /metrics (Prometheus text), /healthz (200 once a snapshot has been applied, 503 before) and
// /wait (read-your-writes: 200 once a position is visible to new readers, client/position_wait.h,
// docs/read-your-writes.md), with GET and HEAD, and POST /promote (the replica promotes itself,
// docs/promotion.md §5) when the replica asks for it, answered as the primary answers
// (proto/http/), over TLS and with bearer tokens when asked (proto/http/server_access.h). Runs its
// own Asio thread, which only reads ReplicaState under its mutex: it never touches disk or SQLite.
// A /wait costs no thread: it waits in a registry (proto/http/waiter_registry.h) that the stream
// thread's publish of each applied position wakes (ReplicaState::setPositionListener).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "client/replica_state.h"
#include "proto/http/listen_address.h"

namespace walstream::httpd {
class ServerAccess;
}

namespace walstream::client {

// Descriptors kept for the rest of the replica whatever its status connections: LOCAL_DB with
// its -wal and -shm (SQLite's and the appender's), the position file, a received snapshot, the
// upstream connection, SQLite's temporary files and the process's own.
inline constexpr unsigned long kStatusFileReserve = 64;

// --max-connections when not given: half of the open-file limit left after kStatusFileReserve,
// as the primary's, and at most 1024 (each connection may hold up to about 32 KiB of request
// while it is read). At least 1.
size_t defaultMaxStatusConnections(unsigned long fileLimit);

struct StatusServerLimits {
  size_t maxConnections = 1024;
  // /wait requests waiting at once (--max-waiters); one beyond it is answered 503.
  size_t maxWaiters = 1024;
  std::chrono::milliseconds requestTimeout{10000};
};

// POST /promote's answer, text/plain: 200 once the promotion is durable, 500 when it failed.
struct PromotionAnswer {
  unsigned status = 200;
  std::string body;
};
// Gives POST /promote its answer. Called once, from any thread but the server's; returns once
// the answer is written (or the connection is gone), at most --header-timeout later, so that
// the caller may then end the process without cutting the answer off.
using PromotionReply = std::function<void(const PromotionAnswer&)>;
// Called on the server's thread for the first POST /promote it admits (every later one is
// answered 409, for as long as the server lives): must not block, since the promotion
// checkpoints and fsyncs; it hands `reply` to the thread that promotes and returns.
using PromotionStarter = std::function<void(PromotionReply reply)>;

class StatusServer {
 public:
  // Binds `address` as the primary binds its own (proto/http/listening_socket.h) and starts
  // serving, with at most `limits.maxConnections` connections open at once: one beyond it is
  // closed as soon as it is accepted. A connection whose request (its TLS handshake included) is
  // not complete `limits.requestTimeout` after it was accepted is closed (--header-timeout).
  // `access` (null: plain HTTP, no tokens) is read for every new connection, so a reload of its
  // files applies to the next one. Throws walstream::Error naming the address. `state`'s position
  // listener is this server's while it lives. Without `promote`, /promote is 404.
  StatusServer(const httpd::ListenAddress& address, ReplicaState& state,
               const StatusServerLimits& limits,
               std::shared_ptr<const httpd::ServerAccess> access = nullptr,
               PromotionStarter promote = {});
  ~StatusServer();  // stops the thread
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  std::string address() const;  // "http://HOST:PORT" (or https://) as bound
  size_t maxConnections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  ReplicaState& state_;
};

}  // namespace walstream::client
