// What every session of the server shares: the event loop, the worker pool, the served
// databases, limits and the session registry. Owned by PrimaryServer; outlives every session.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <memory>
#include <string>
#include <vector>

#include "proto/connection_count.h"
#include "proto/http/waiter_registry.h"
#include "proto/status_json.h"
#include "server/byte_budget.h"
#include "server/counted_snapshot.h"
#include "server/memory_trimmer.h"
#include "server/post_gate.h"
#include "server/primary_server.h"
#include "server/query.h"
#include "server/served_database.h"
#include "server/session_registry.h"
#include "server/setup_queue.h"

namespace walstream::server {

using proto::ConnectionCount;

struct ServerContext {
  boost::asio::io_context& io;
  boost::asio::thread_pool& workers;  // all disk, fsync and SQLite work of sessions runs here
  std::shared_ptr<PostGate> gate;
  StreamLimits limits;
  size_t maxConnections = 0;
  std::vector<std::unique_ptr<ServedDatabase>> databases;
  std::vector<ServedName> names;  // same order as databases
  SessionRegistry registry;
  SetupQueue setups{limits.maxRunningSetups, limits.maxWaitingSetups};
  // compress=1 size passes (snapshot_compressor.h), admitted like setups.
  SetupQueue compressions{limits.maxRunningCompressions, limits.maxWaitingCompressions};
  ConnectionCount connections{maxConnections};
  // Private buffers of all streams together (byte_budget.h).
  ByteBudget buffers{limits.maxBufferedBytes};
  // Snapshots being sent, against --max-snapshots (counted_snapshot.h).
  SnapshotCount snapshots{limits.maxSnapshots};
  // /stream responses open, against --max-streams; a slot moves into the StreamSession.
  proto::ConnectionCount streamCount{limits.maxStreams};
  std::atomic<uint64_t> streamsRefused{0};  // /stream requests answered 503 for --max-streams
  MemoryTrimmer trimmer{workers};
  BackupStatusSource backupStatus{};  // ServerOptions::backupStatus
  // POST /sync requests waiting for capture (server/position_requests.h), at most
  // limits.maxWaiters; made by PrimaryServer on the io_context.
  std::unique_ptr<httpd::WaiterRegistry> syncWaiters{};
  // TLS and tokens (ServerOptions::access); null: plain HTTP, no authentication.
  const httpd::ServerAccess* access = nullptr;

  // Bodies of GET /status, /metrics and /healthz. Never block: they read atomics and positions.
  proto::PrimaryStatusJson status() const;
  std::string metricsText() const;
  // Empty when every database is being captured; otherwise one reason per line.
  std::string unhealthyReasons() const;
};

}  // namespace walstream::server
