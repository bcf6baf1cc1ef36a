// What a running replica reports on /status, /metrics and /healthz. Written by the stream
// thread, read by the status server's thread: every member is guarded by mu.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "core/pos.h"

namespace walstream::client {

struct ReplicaState {
  mutable std::mutex mu;
  std::string upstream;  // the URL followed now (of several --upstream, client/replica.h)
  std::string db;
  // "walstream" or "original" (client/upstream_protocol.h), from the last stream response; ""
  // before the first.
  std::string upstreamProtocol;
  // The applied position, visible to every read transaction of LOCAL_DB that begins from now on.
  // Changed only through setPos().
  Pos pos;
  // The generations this replica stood in and has left since it started (it applied a
  // snapshot of another one), oldest first, at most kLeftGenerationsKept: a /wait for a position
  // in one of them can never be answered (docs/read-your-writes.md).
  std::vector<uint64_t> leftGenerations;
  static constexpr size_t kLeftGenerationsKept = 64;
  bool connected = false;
  uint64_t snapshotsApplied = 0;
  uint64_t transactionsApplied = 0;
  uint64_t segmentsApplied = 0;
  uint64_t bytesReceived = 0;
  uint64_t reconnects = 0;
  uint64_t checkpoints = 0;
  std::string lastError;
  // The primary rejects the replica's requests (a configuration error, e.g. it no longer serves
  // the database LOCAL_DB follows): /healthz fails until a stream is accepted again.
  bool refused = false;
  // The last moment the replica was known to hold everything the primary had (after applying
  // the last buffered segment, or on a heartbeat at or before the applied position). lag_ms is
  // the time since then while data is known to be pending, else 0.
  std::chrono::steady_clock::time_point caughtUpAt{};
  bool behind = true;
  // The position the primary's last heartbeat claimed (empty before the first), and since when
  // the replica has made no progress while the primary claims more than it has (a heartbeat
  // ahead of the applied position, or a record left unfinished): zero while it progresses.
  // Past --stall-timeout the replica reconnects (client/replica.h).
  Pos upstreamPos;
  std::chrono::steady_clock::time_point stalledSince{};

  int64_t lagMillis() const;      // requires mu
  int64_t stalledMillis() const;  // requires mu; 0 while not stalled
  // Sets pos, noting a generation left. Requires mu; the caller then calls positionPublished()
  // once it has released mu.
  void setPos(const Pos& applied);

  // The status server's /wait waiters hang on this (client/status_server.h): called by the stream
  // thread, without mu, after each change of pos. It must not block (it posts and returns).
  // Once setPositionListener() returns, the previous listener is not running and will not run.
  void setPositionListener(std::function<void()> listener);
  void positionPublished();

 private:
  std::mutex listenerMu_;  // held while the listener runs; never with mu
  std::function<void()> listener_;
};

}  // namespace walstream::client
