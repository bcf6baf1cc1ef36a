// What the applier tells about LOCAL_DB's visible state, for a replica that serves downstream
// replicas (docs/cascading.md). Declared here, implemented outside client/ (cli/ adapts the
// relay to it), so that the replica depends on no server code.
//
// Contract:
//  - lockPublish() is held by the applier across every change of what LOCAL_DB's readers see
//    (an apply, a snapshot install, forgetting the position) and the call that reports it. A
//    reader that begins a SQLite read transaction on LOCAL_DB while holding it therefore sees
//    exactly the state of the last position reported.
//  - published() and forgotten() are called with that lock held, on the replica's stream
//    thread, in the order the changes happen; they must not block for long (the apply waits).
//  - replacingLocalDb() is called, with the lock held, before the applier closes its last
//    connection to LOCAL_DB (a snapshot of another page size replaces the file): every other
//    SQLite connection to LOCAL_DB in the process must be closed when it returns, because
//    closing the applier's descriptors drops the process's POSIX locks on those files
//    (client/apply/wal_appender.h).
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <span>
#include <string>

#include "core/pos.h"
#include "core/wal_segment.h"

namespace walstream::client {

// A segment of the upstream as received, applied whole.
struct AppliedSegment {
  Pos pos;                       // the upstream's position of its first byte
  std::span<const uint8_t> lz4;  // its compressed bytes, as the upstream sent them
  uint64_t walBytes = 0;         // its uncompressed length
};

// LOCAL_DB as readers see it right after a publish.
struct AppliedState {
  Pos pos;  // the upstream's position it is the state at
  uint32_t pageSize = 0;
  std::optional<WalChainState> chain;  // the upstream WAL's chain at pos, when fully known
  uint32_t localMxFrame = 0;           // LOCAL_DB's own WAL: frames 1..mxFrame are visible
  std::array<uint8_t, 8> localSalt{};  // its salts (WAL header bytes 16..23)
};

class AppliedStateListener {
 public:
  virtual std::unique_lock<std::mutex> lockPublish() = 0;
  // LOCAL_DB now shows `state` (first called, when the applier starts at a saved position,
  // with that position and no segments). `segments` are the upstream's segments that led there from
  // the previously reported state, in order, when every one was applied whole; empty after a
  // snapshot, a continuation into a new generation, or a segment partly resent.
  virtual void published(const AppliedState& state, std::span<const AppliedSegment> segments) = 0;
  // The applied position was forgotten (a local write, a diverged upstream): no state to serve.
  virtual void forgotten() = 0;
  virtual void replacingLocalDb() = 0;
  // After each stream response the upstream accepted, on the stream thread, without the lock:
  // its Walstream-Chain header (the ids of the replicas it and its own upstreams are), "" when
  // it sent none (a primary).
  virtual void upstreamChain(const std::string& chain) = 0;

 protected:
  ~AppliedStateListener() = default;
};

}  // namespace walstream::client
