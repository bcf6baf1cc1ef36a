// The primary's HTTP server: GET /stream, /status, /metrics, /healthz, /pos and POST /sync for a
// set of captured databases.
//
// Threads: one event loop thread (the caller of run()) does all network I/O and never blocks on
// disk, fsync or SQLite; that work runs on a small worker pool and hands its results back to
// the session's executor. Capture threads reach the loop only through SegmentIterator notify
// callbacks, which post and return.
//
// This header is included by the CLI and keeps Boost.Asio/Beast out (pimpl).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/file_util.h"
#include "proto/status_json.h"

#include "proto/http/listen_address.h"

namespace walstream {
class Database;
class StreamSource;
}  // namespace walstream

namespace walstream::httpd {
class ServerAccess;
}

namespace walstream::server {

// Bounds that keep one slow client from costing the others (or capture) anything.
struct StreamLimits {
  // Live segment bytes queued for one client (shared with other clients, but kept alive by a
  // slow one). Past this the client is disconnected and resumes later from its position.
  // Raised per database to two full WALs (2 x max-checkpoint-pages frames), because one sync
  // may publish a whole WAL at once even to a client that keeps up.
  size_t maxPendingBytes = 64 * 1024 * 1024;
  size_t maxPendingSegments = 10000;  // live segments queued for one client
  // A write whose client takes no byte for this long disconnects the client (--stall-timeout).
  std::chrono::milliseconds writeStallTimeout{10000};
  // A connection whose request is not complete this long after it was accepted, or after the
  // first byte of a request that follows another (keep-alive), is closed (--header-timeout): a
  // fixed deadline, which bytes that trickle in do not push back. The TLS handshake of a new
  // connection has one of its own, as long.
  std::chrono::milliseconds requestTimeout{10000};
  // A keep-alive connection that sends no byte of its next request for this long after an
  // answer is closed (--idle-timeout).
  std::chrono::milliseconds idleTimeout{10000};
  size_t snapshotChunkBytes = 256 * 1024;  // snapshot bytes read per worker task
  // Snapshot chunks and segments read from disk, all streams together (byte_budget.h); past
  // it each stream reads in pieces of minBufferBytes (or one page, or one segment, if larger).
  uint64_t maxBufferedBytes = 16 * 1024 * 1024;
  size_t minBufferBytes = 32 * 1024;
  // Stream setups (planning; setup_queue.h) running at once, and waiting; past both, 503.
  // Running ones stay below the worker threads so that setups never take every worker.
  size_t maxRunningSetups = 2;
  size_t maxWaitingSetups = 256;
  // compress=1: the pass that reads and compresses a whole snapshot to learn its size
  // (snapshot_compressor.h) runs this many at a time, beside the setups, and this many more
  // wait; past both, 503. A waiting or running pass whose client has gone stops.
  size_t maxRunningCompressions = 1;
  size_t maxWaitingCompressions = 16;
  // Snapshots being sent at once, all databases together (--max-snapshots); past it a stream
  // that needs one is answered 503. Each holds a SQLite read transaction (two descriptors) and
  // an overlay of the current WAL index in memory (up to max-checkpoint-pages pages).
  size_t maxSnapshots = 8;
  // /stream responses open at once, all databases together (--max-streams); past it a new
  // /stream request is answered 503 with Retry-After, and /status, /metrics and /healthz are
  // still answered.
  size_t maxStreams = 64;
  // A snapshot opened less than this long ago is shared by the streams that ask for one
  // (Database::openSnapshot): a burst of requests costs one snapshot, not one each. A stream
  // whose client stops reading in the middle of a shared snapshot is still cut by its own
  // write-stall timer (integration.primary_limits_test).
  std::chrono::milliseconds snapshotShareWindow{1000};
  // POST /sync requests waiting at once, all databases together (--max-waiters); past it one
  // is answered 503 with Retry-After. A waiting request holds its connection and a few hundred
  // bytes, never a thread.
  size_t maxWaiters = 1024;
};

// With backups (server/backup): the backup status of the database at `index` (in the order the
// server was given them), or nullopt when it has none. Called on the event loop: must not block.
using BackupStatusSource = std::function<std::optional<proto::BackupStatusJson>(size_t index)>;

struct ServerOptions {
  std::string listenAddress;  // ":9090", "127.0.0.1:9090", "[::1]:9090"; port 0 = ephemeral
  // A socket already listening at listenAddress (httpd::openListeningSocket), which the server
  // takes over instead of binding; null or empty: the server binds listenAddress.
  std::shared_ptr<UniqueFd> listening;
  size_t workerThreads = 4;
  // Connections held open at once (--max-connections); the listener closes the ones beyond
  // at once. 0: defaultMaxConnections() of the process's open-file limit.
  size_t maxConnections = 0;
  StreamLimits limits;
  BackupStatusSource backupStatus;  // for /status, /metrics and /healthz; empty: no backups
  // TLS and bearer tokens (proto/http/server_access.h), reloaded on SIGHUP; null: plain HTTP
  // open to anyone who can reach it.
  std::shared_ptr<httpd::ServerAccess> access;
};

// Descriptors kept for capture whatever the connections: its files and SQLite connections, the
// segment files it writes and those the workers read (kFileReserve, and kFileReservePerDatabase
// for each database).
inline constexpr unsigned long kFileReserve = 64;
inline constexpr unsigned long kFileReservePerDatabase = 32;

// --max-connections when not given. Each connection holds its socket, and a stream that is sent
// a snapshot two descriptors more (its SQLite read transaction), with at most `maxSnapshots`
// such streams at once: of the open-file limit left after the reserve, what is left once every
// snapshot has its two, or a third of it when that is more (then fewer connections than
// `maxSnapshots` exist, each with room for a snapshot). At least 1, at most 16384.
size_t defaultMaxConnections(unsigned long fileLimit, size_t databases, size_t maxSnapshots);

// ServerOptions::listenAddress, as both servers read --http (proto/http/listen_address.h).
using httpd::ListenAddress;
using httpd::parseListenAddress;

class PrimaryServer {
 public:
  // Databases are served under their file names, which must be distinct; they must outlive the
  // server. Binds the address at once; throws walstream::Error when it cannot. A source without
  // CaptureRounds answers POST /sync with 404 (docs/stream-source.md).
  PrimaryServer(std::vector<StreamSource*> sources, ServerOptions options);
  // The primary's captured databases.
  PrimaryServer(const std::vector<Database*>& databases, ServerOptions options);
  ~PrimaryServer();
  PrimaryServer(const PrimaryServer&) = delete;
  PrimaryServer& operator=(const PrimaryServer&) = delete;

  // The bound address as "127.0.0.1:40123" or "[::1]:40123" (the real port when 0 was asked).
  std::string boundAddress() const;
  size_t maxConnections() const;  // the cap in force (ServerOptions::maxConnections resolved)

  // Serves on the calling thread until SIGINT or SIGTERM (or stop()), then closes every
  // connection and returns once no session is left. SIGHUP reloads ServerOptions::access's files
  // for new connections; open ones, streams included, go on as they are. Returns the signal number
  // that stopped it, or 0 after stop(). The server installs its signal handlers when constructed; a
  // caller that blocked those signals should unblock them on this thread just before calling run().
  int run();

  // Asks run() to return; callable from any thread.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace walstream::server
