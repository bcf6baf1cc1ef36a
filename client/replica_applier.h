// Applies a primary's stream to the replica database LOCAL_DB (design.md §4).
//
// Invariants:
//  - Nothing unchecked reaches LOCAL_DB: a batch of WAL segments is decompressed and its frame
//    chain checked (salts, running checksum, commit boundaries, page size, contiguous positions)
//    before any lock is taken; a snapshot is received whole into a file beside LOCAL_DB first.
//  - Every primary transaction lands as one SQLite transaction through WalAppender (several may
//    share one publish); a snapshot into an existing LOCAL_DB is one transaction too. Only a
//    LOCAL_DB that does not exist yet is created by renaming a complete, fsynced image.
//  - The position file is written only after the data it describes is durable.
//
// One thread drives an applier (the replica's stream thread); it blocks on disk and SQLite.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "client/replica_position.h"
#include "core/file_util.h"
#include "core/record_file.h"
#include "core/sequential_writeback.h"
#include "core/wal_appender.h"

namespace walstream::client {

struct ApplierOptions {
  uint32_t minCheckpointPages = 1000;   // PASSIVE checkpoint past this many WAL frames
  uint32_t maxCheckpointPages = 10000;  // TRUNCATE checkpoint (when readers allow) past this
  std::chrono::milliseconds truncateBusyTimeout{100};
};

// A segment as received: its position and its lz4 bytes.
struct ReceivedSegment {
  Pos pos;
  std::vector<uint8_t> lz4;
};

class ReplicaApplier {
 public:
  ReplicaApplier(std::string localPath, ApplierOptions options);
  ~ReplicaApplier();

  const std::string& localPath() const { return localPath_; }
  // The last applied position; nullopt before the first snapshot (or after local writes were
  // detected, which calls for a new snapshot).
  const std::optional<ReplicaPosition>& position() const { return position_; }

  // Snapshot: received into a file beside LOCAL_DB, then installed by endSnapshot().
  void beginSnapshot(const Pos& pos, uint32_t pageSize, uint64_t size);
  void snapshotBytes(std::span<const uint8_t> bytes);
  void endSnapshot();    // throws if fewer bytes than announced arrived
  void abortSnapshot();  // drops a partial snapshot (the connection broke)

  // Checks then applies segments (in stream order). Returns transactions applied. Throws Error
  // on a check failure (nothing applied) and ReplicaModifiedError when LOCAL_DB was written
  // locally (the position is forgotten: the caller must fetch a snapshot).
  uint64_t applySegments(const std::vector<ReceivedSegment>& segments);

  // Keeps LOCAL_DB's WAL bounded; returns true when a checkpoint ran.
  bool maybeCheckpoint();

 private:
  void installSnapshotFile();
  void savePosition();
  // Forgets a saved position that LOCAL_DB's WAL has moved past (see savePosition).
  void checkLocalWal();
  WalAppender& appender();

  const std::string localPath_;
  const std::string positionPath_;
  RecordFile positionFile_;  // rewritten in place after every apply
  const std::string snapshotPath_;
  const ApplierOptions options_;
  std::optional<ReplicaPosition> position_;
  std::unique_ptr<WalAppender> appender_;

  // Snapshot being received.
  UniqueFd snapshotFd_;
  std::optional<SequentialWriteback> snapshotWriteback_;  // flushes it while it arrives
  Pos snapshotPos_;
  uint32_t snapshotPageSize_ = 0;
  uint64_t snapshotSize_ = 0;
  uint64_t snapshotReceived_ = 0;
};

}  // namespace walstream::client
