// Applies a primary's stream to the replica database LOCAL_DB (design.md §4).
//
// Invariants:
//  - Nothing unchecked reaches LOCAL_DB: a batch of WAL segments is decompressed and its frame
//    chain checked (salts, running checksum, commit boundaries, page size, contiguous positions)
//    before any lock is taken; a snapshot is received whole into a file beside LOCAL_DB first.
//  - The primary transactions of one batch land as ONE SQLite transaction through WalAppender,
//    holding the last version of each page they write and the last one's database size
//    (core/wal_batch.h says why that is exactly the state after the last of them): readers see
//    the state before the batch or after it, both states the primary had. A snapshot into an
//    existing LOCAL_DB is one transaction too. Only a LOCAL_DB that does not exist yet is
//    created by renaming a complete, fsynced image.
//  - Durability is not on the path to readers: a transaction is visible as soon as its frames
//    are in LOCAL_DB's WAL and the wal-index, and the WAL reaches the device at checkpoints
//    (SQLite syncs it before backfilling) and at shutdown. The position file, rewritten after
//    every apply, records LOCAL_DB's WAL state beside the primary's position; on start a WAL
//    that does not match it exactly (a crash or power failure lost one or the other) means a
//    snapshot, never a resume onto the wrong state (checkLocalWal). A device flush per
//    transaction would cost each replica ~0.2 ms of lag and its share of the disk's flushes
//    (50 replicas at 1000 tx/s: 50,000 flushes a second), and buy only a smaller chance of that
//    snapshot after a power failure.
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
#include "core/lz4_codec.h"
#include "core/record_file.h"
#include "core/sequential_writeback.h"
#include "core/wal_appender.h"
#include "core/wal_batch.h"

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

  // Checks then applies a batch of segments (in stream order) as one transaction. Returns the
  // primary transactions applied. Throws Error on a check failure (nothing applied) and
  // ReplicaModifiedError when LOCAL_DB was written locally (the position is forgotten: the
  // caller must fetch a snapshot). The whole batch is held decompressed while it is applied:
  // the caller bounds its size (see Replica).
  uint64_t applySegments(const std::vector<ReceivedSegment>& segments);

  // Keeps LOCAL_DB's WAL bounded; returns true when a checkpoint ran.
  bool maybeCheckpoint();

 private:
  void installSnapshotFile();
  void savePosition();
  // Forgets a saved position that LOCAL_DB's WAL has moved past (see savePosition).
  void checkLocalWal();
  WalAppender& appender();
  // Decompresses every segment of a batch into scratch_ (one buffer, reused between batches).
  std::vector<std::span<const uint8_t>> decompressBatch(const std::vector<ReceivedSegment>& s);

  const std::string localPath_;
  const std::string positionPath_;
  RecordFile positionFile_;  // rewritten in place after every apply
  const std::string snapshotPath_;
  const ApplierOptions options_;
  std::optional<ReplicaPosition> position_;
  bool positionDirExists_ = false;  // made once; nothing of walstream's removes it
  std::unique_ptr<WalAppender> appender_;
  // Segments skip lz4's content checksum: the frame chain checked before anything is applied
  // covers every byte of a segment (the WAL header's own checksum, and each frame's salts and
  // running checksum over its header and page), so a corrupt segment is still refused.
  Lz4Decompressor lz4_{/*verifyChecksums=*/false};
  WalBatchMerger merger_;
  // The decompressed segments of the batch being applied. Kept between batches while they are
  // large (catching up), released after a small one, so that a live replica stays small.
  std::unique_ptr<uint8_t[]> scratch_;
  size_t scratchSize_ = 0;

  // Snapshot being received.
  UniqueFd snapshotFd_;
  std::optional<SequentialWriteback> snapshotWriteback_;  // flushes it while it arrives
  Pos snapshotPos_;
  uint32_t snapshotPageSize_ = 0;
  uint64_t snapshotSize_ = 0;
  uint64_t snapshotReceived_ = 0;
};

}  // namespace walstream::client
