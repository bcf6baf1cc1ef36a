// The replica's main loop: follow the primary's /stream and apply it into LOCAL_DB, forever.
//
// One stream thread runs run(): connect, request the stream at the applied position (with the
// resume check and heartbeats), decode, check and apply (dropping a connection that stalls:
// ReplicaOptions::stallTimeout), and on any failure reconnect with
// capped exponential backoff and jitter (100 ms up to 5 s); a request the primary rejects as
// invalid (400), for a database it does not serve (404), without a valid token (401) or that
// would close a cycle of replicas (409, docs/cascading.md §5) is a
// configuration error, logged as one and asked again only every 30 s. The request always names
// the database: without --db or a recorded one, the primary's /status tells which
// (discoverDatabase). A primary of the original protocol (client/upstream_protocol.h,
// docs/wire-format.md §9) is asked in that protocol's form once it is known, and its stream,
// which has no heartbeats, may stay silent: TCP keepalive watches the connection instead
// (client/tcp_keepalive.h). Each state change (connected, disconnected, a new error) is logged
// once, not once per retry. stop() may be called from any thread; run() then abandons the
// in-flight transaction (nothing unpublished is visible to readers) and returns.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "client/replica_applier.h"
#include "client/replica_state.h"
#include "client/upstream.h"
#include "client/upstream_protocol.h"

namespace walstream::client {

class StreamingGet;
struct HttpResponseHead;

struct ReplicaOptions {
  // At least one. The replica follows the first, and on a failure of the one it follows
  // (connection refused or timed out, a stall, an error answer, a broken stream) moves to the
  // next, in a ring, resuming at its applied position: an upstream of the same generation sends
  // no snapshot. Only after every one failed in turn does it back off.
  std::vector<Upstream> upstreams;
  UpstreamAccess access;  // TLS for https://, the bearer token: the same for every upstream
  // Database name on the primary; "" = the one LOCAL_DB follows (client/followed_db.h), or for
  // a new LOCAL_DB the only one the primary serves (else LOCAL_DB's file name).
  std::string db;
  std::string localPath;  // LOCAL_DB
  ApplierOptions applier;
  std::chrono::milliseconds heartbeatInterval{1000};
  std::chrono::milliseconds connectTimeout{5000};
  // A connection on which the replica makes no progress while the primary claims more (its
  // heartbeats name a later position, or a record stays unfinished) is dropped after this long
  // and made again: a primary, or something on the path, that keeps the connection alive
  // without sending what it announces must not hold the replica there. Also the longest wait for
  // the response head of a stream request.
  std::chrono::milliseconds stallTimeout{60000};
  // How requests are written; the responses tell which protocol the upstream speaks
  // (client/upstream_protocol.h).
  UpstreamProtocol upstreamProtocol = UpstreamProtocol::kAuto;
};

class Replica {
 public:
  Replica(ReplicaOptions options, ReplicaState& state);
  ~Replica();

  void run();
  void stop();

 private:
  // One connection: returns normally when the stream ended cleanly (the primary's generation
  // changed), throws on errors.
  void streamOnce();
  // Throws for a stream response other than 200: RequestRejectedError for the configuration
  // errors (400, 401, 404, 409), Error for the rest.
  void checkStreamResponse(const HttpResponseHead& head) const;
  // Before each connection: the token of --upstream-token-file as the file now holds it (a
  // rotated token), or the last good one when the file cannot be read (logged).
  void reloadUpstreamToken();
  // Throws RequestRejectedError for a 401: a missing or wrong --upstream-token-file.
  void rejectUnauthorized(const HttpResponseHead& head) const;
  // One connection's stream from its response head on: decoding, batching, applying (replica.cpp).
  class StreamConnection;
  // The page size of the stream, from the response's headers (strictly: header_number.h).
  uint32_t streamPageSize(const HttpResponseHead& head) const;
  std::string requestTarget() const;
  // After a 200: notes which protocol the upstream speaks (/status, and the next request's form).
  void noteUpstreamProtocol(const HttpResponseHead& head);
  // The name of the only database the primary serves (or, when it serves several, LOCAL_DB's
  // file name), from its /status.
  std::string discoverDatabase();
  // Makes a connection the one stop() cancels, for the attachment's life.
  class StreamAttachment;
  // After a 200 for db_: records it as the database LOCAL_DB follows, if not yet.
  void recordFollowedDb();
  // Logs a new error once (a configuration error at error level) and shows it on /status.
  void noteError(const std::string& message, bool configuration = false);
  void setConnected(bool connected);
  // The upstream followed now.
  const Upstream& upstream() const { return options_.upstreams[current_]; }
  // After a failure of the upstream followed: moves to the next one, if there are several.
  // True when the replica should connect to it at once; false when it should back off first
  // (one upstream only, or every one has failed in turn since the last stream was accepted).
  bool failOver(const std::string& why);
  void waitBackoff(std::chrono::milliseconds d);

  ReplicaOptions options_;
  ReplicaState& state_;
  ReplicaApplier applier_;
  // The database followed: --db, else the one recorded beside LOCAL_DB (client/followed_db.h),
  // else "" until discoverDatabase() names it. Once set it stays: every request names it.
  std::string db_;
  std::string followedPath_;
  // Requests are written in the original protocol's form (docs/wire-format.md §9): asked for,
  // or the last stream response came from a primary of that protocol.
  bool original_ = false;
  std::optional<std::string> followed_;  // as recorded beside LOCAL_DB

  size_t current_ = 0;        // into options_.upstreams
  size_t failedInRound_ = 0;  // upstreams failed in a row since a stream was last accepted

  std::atomic<bool> stopping_{false};
  std::mutex mu_;  // guards stream_ and the backoff wait
  std::condition_variable wake_;
  StreamingGet* stream_ = nullptr;  // the live connection, for stop()
};

}  // namespace walstream::client
