// Applies a primary's stream to the replica database LOCAL_DB (docs/design.md §4).
//
// Invariants:
//  - Nothing unchecked reaches LOCAL_DB: a batch of WAL segments is decompressed and its frame
//    chain checked (salts, running checksum, commit boundaries, page size, contiguous positions,
//    page numbers and database sizes within what SQLite allows) before any lock is taken; a
//    segment's declared size is checked before memory is taken for it (an lz4 frame that
//    declares none is bounded while it is decompressed), and its frames while it is
//    decompressed. A segment resent from before the applied position is verified against the
//    chain kept there and skipped (client/apply/wal_overlap.h), never applied again. A snapshot is
//    received whole into a file beside LOCAL_DB first, after a check of the free space it needs,
//    and must pass the database header's checks and SQLite's PRAGMA quick_check before it is
//    installed; a refused or partial one is removed.
//  - The primary transactions of one batch land as ONE SQLite transaction through WalAppender,
//    holding the last version of each page they write and the last one's database size
//    (client/apply/wal_batch.h says why that is exactly the state after the last of them): readers
//    see the state before the batch or after it, both states the primary had. A snapshot into an
//    existing LOCAL_DB is one transaction too. Only a LOCAL_DB that does not exist yet is
//    created by renaming a complete, fsynced image.
//  - Durability is not on the path to readers: a transaction is visible as soon as its frames
//    are in LOCAL_DB's WAL and the wal-index, and the WAL reaches the device at checkpoints
//    (SQLite syncs it before backfilling) and at shutdown. A device flush per transaction would
//    cost each replica ~0.2 ms of lag and its share of the disk's flushes (50 replicas at 1000
//    tx/s: 50,000 flushes a second), and buy only a smaller chance of a snapshot after a power
//    failure. What makes that safe is the next invariant.
//  - Durability: a crash or power failure never makes the replica resume onto a state the
//    primary did not have; it resumes at exactly the saved position's state or fetches a
//    snapshot. The position file P (client/replica_position.h) is rewritten in place after every
//    apply, snapshot and WAL truncation without a flush, and records LOCAL_DB's WAL state L
//    (salts, mxFrame, running checksum) beside the primary's position. P is flushed only
//    (a) before every checkpoint, (b) after a TRUNCATE checkpoint, once the truncation itself is
//    flushed, and (c) at a clean stop. LOCAL_DB's file changes only through SQLite checkpoints on
//    the appender's connection, which (at SQLite's default synchronous=FULL) sync the WAL before
//    backfilling and the database file after; readers never write, and the appender's SHARED
//    lock keeps a closing reader from checkpointing while the replica runs. After a power failure
//    SQLite rebuilds the wal-index from the WAL file: the frames up to the last commit frame
//    whose salts and checksum chain hold (after a crash of the replica alone, the wal-index that
//    readers kept open describes the WAL file as it is). On start, checkLocalWal resumes only
//    when
//      * L.mxFrame != 0 and the rebuilt WAL state equals L: the WAL then holds exactly the
//        frames the appender had published at P (the running checksum covers every frame, the
//        salts the WAL's generation), and the database file holds no frame beyond them (a
//        checkpoint copies only frames that were synced first, hence never lost later); or
//      * L.mxFrame == 0, the rebuilt WAL has no frame, and the database file's stat(2) (inode,
//        size, mtime, ctime) is the one L recorded: such a P is written only when the database
//        file alone held the state at P (first install, TRUNCATE checkpoint), and the applier
//        has not changed the file since (the next checkpoint first flushes a later P, which
//        replaces this one for good); the stat tells that nothing else has either (below).
//        Salts are not compared: recovering an empty WAL invents new ones.
//    Anything else (no P, a torn P, a P without L, an unreadable wal-index) fetches a snapshot.
//    Step by step, what a crash (C) or power failure (F) at that step leaves:
//      * apply (frames appended, then P rewritten): C leaves the WAL ahead of P or equal to it;
//        F keeps any prefix of the new frames (maybe none) and any P since the last flush. The
//        rebuilt WAL equals L only when both hold the same apply's state: resume there. A P
//        behind the WAL, or ahead of it (frames lost, or the whole WAL lost while P says it had
//        frames), fetches a snapshot.
//      * P rewrite torn: its checksum fails: snapshot.
//      * PASSIVE checkpoint: P flushed, then SQLite syncs the WAL and copies frames into the
//        database file. The flushed P and the frames it describes survive F: resume; frames
//        applied after it may be lost, and were never copied.
//      * TRUNCATE checkpoint: as PASSIVE, then SQLite truncates the WAL to 0 bytes without a
//        flush. F before the truncation reaches the device brings the whole old WAL back, which
//        the flushed P describes: resume (its frames are also in the database file, harmless).
//        The applier then flushes the WAL (the truncation is durable), rewrites P with
//        L.mxFrame = 0 and flushes it: from then on the database file is the state at P. C or F
//        between the two leaves an empty WAL and a P that says frames: snapshot.
//      * WAL restart (the first apply after a truncation writes a new WAL header with new salts,
//        then frames, unflushed): F leaves P(mxFrame 0) with no valid frame (resume at the
//        truncation: the database file) or with some (snapshot), or a later P whose frames were
//        lost (snapshot).
//      * first install (LOCAL_DB absent): a P left by an earlier LOCAL_DB is removed and the
//        removal flushed, the fsynced image is renamed into place and the directory flushed, and
//        only then P(mxFrame 0) is written. C or F before the rename leaves no LOCAL_DB; after
//        it, either no P (snapshot) or P(mxFrame 0) beside the image: resume at its position.
//      * snapshot into an existing LOCAL_DB: one transaction appended like an apply, then P:
//        as for an apply. A resume at the older P is at a state the primary had, and the
//        primary then sends the snapshot again.
//      * local write detected (ReplicaModifiedError): P is removed, the removal flushed:
//        snapshot.
//      * clean stop: a TRUNCATE checkpoint if no reader is in the WAL and no local write came
//        since the last apply (handled as above), else the WAL and P are flushed; either way a
//        restart resumes even after a later F, except after such a write, which it detects. While
//        no replica runs, the last read-write SQLite connection to close LOCAL_DB checkpoints and
//        deletes the WAL: after a truncation at stop that changes nothing; otherwise the empty
//        WAL beside a P that says frames costs a snapshot (nothing tells it apart from a WAL
//        lost to F).
//    The one residual risk is the 64-bit running checksum: F would have to keep, in slots that
//    were written twice within one WAL generation (an append abandoned before its publish, then
//    a shorter one), frames whose chain reaches L's frame count with L's checksum.
//  - Local writes. While the replica runs, the appender sees them (client/apply/wal_appender.h).
//    Made while it is stopped, they are seen on start by the same check: a write still in the WAL
//    makes the WAL differ from L; one checkpointed into the database file (the sqlite3 shell,
//    as the last connection to close LOCAL_DB, always checkpoints and deletes the WAL) leaves
//    an empty WAL that a P with L.mxFrame != 0 does not match, and otherwise changes the file's
//    mtime and ctime from those L recorded. In WAL mode SQLite 3.40 updates neither the header's
//    change counter (offset 24) nor version-valid-for (92) unless a transaction writes page 1,
//    and a plain UPDATE does not, so the header cannot tell; reads, and checkpoints of an empty
//    WAL, leave the stat unchanged. Not seen: a write whose mtime and ctime both equal the
//    recorded ones, i.e. made within one tick of the file system's timestamp clock (a few ms)
//    after the applier recorded them, on a kernel or file system without fine-grained
//    (multigrain, Linux 6.13+) timestamps, and of the same size; or one hidden by setting the
//    system clock back.
//
// One thread drives an applier (the replica's stream thread); it blocks on disk and SQLite.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "client/applied_state_listener.h"
#include "client/apply/wal_appender.h"
#include "client/apply/wal_batch.h"
#include "client/apply/wal_overlap.h"
#include "client/replica_position.h"
#include "core/file_system.h"
#include "core/file_util.h"
#include "core/lz4_codec.h"
#include "core/record_file.h"
#include "core/sequential_writeback.h"

namespace walstream::client {

// The upstream resent WAL bytes before the applied position that are not the ones applied there
// (client/apply/wal_overlap.h): its WAL is not the one LOCAL_DB followed. The applier has
// forgotten its position; the caller must fetch a snapshot.
class WalDivergedError : public Error {
 public:
  using Error::Error;
};

struct ApplierOptions {
  uint32_t minCheckpointPages = 1000;   // PASSIVE checkpoint past this many WAL frames
  uint32_t maxCheckpointPages = 10000;  // TRUNCATE checkpoint (when readers allow) past this
  std::chrono::milliseconds truncateBusyTimeout{100};
  // How long an append or snapshot install waits for SQLite's write lock on LOCAL_DB in total.
  std::chrono::milliseconds writeLockPatience{30000};
  // Every write, sync, rename and removal of the applier's own files (LOCAL_DB's -wal through
  // the appender, the position file, a received snapshot) goes through it
  // (core/file_system.h); SQLite's I/O does not. Never null; must outlive the applier.
  FileSystem* fileSystem = &realFileSystem();
  // Whether a saved position that LOCAL_DB does not match is logged when the applier starts
  // (startProblem() tells it either way).
  bool logStartProblem = true;
  // Told of every change of LOCAL_DB's visible state, under its publish lock
  // (client/applied_state_listener.h); null: nobody. Must outlive the applier.
  AppliedStateListener* listener = nullptr;
};

// A segment as received: its position and its lz4 bytes.
struct ReceivedSegment {
  Pos pos;
  std::vector<uint8_t> lz4;
  // False when the segment starts the next WAL index but the upstream, having promised
  // index-end records, sent none saying the previous index ended at the applied position: the
  // applier then refuses it as a possible hole. Upstreams without index ends leave it true.
  bool mayStartIndex = true;
};

class ReplicaApplier {
 public:
  ReplicaApplier(std::string localPath, ApplierOptions options);
  ~ReplicaApplier();

  const std::string& localPath() const { return localPath_; }
  // The last applied position; nullopt before the first snapshot (or after local writes were
  // detected, which calls for a new snapshot).
  const std::optional<ReplicaPosition>& position() const { return position_; }
  // Why the position saved in LOCAL_DB-walstream/position was forgotten at construction
  // (LOCAL_DB's WAL or file is not where it left them); empty when it was not.
  const std::string& startProblem() const { return startProblem_; }

  // Snapshot: received into a file beside LOCAL_DB, then installed by endSnapshot().
  // `chain`: the primary WAL's chain at `pos` when the primary sent it (a snapshot in the
  // middle of a WAL index: proto/snapshot_chain.h); the next segment is then checked against it
  // and a resume right after the snapshot carries its checksum.
  void beginSnapshot(const Pos& pos, uint32_t pageSize, uint64_t size,
                     std::optional<WalChainState> chain = std::nullopt);
  void snapshotBytes(std::span<const uint8_t> bytes);
  void endSnapshot();    // throws if fewer bytes than announced arrived
  void abortSnapshot();  // drops a partial snapshot (the connection broke)

  // Checks then applies a batch of segments (in stream order) as one transaction. Returns the
  // primary transactions applied. Throws Error on a check failure (nothing applied) and
  // ReplicaModifiedError when LOCAL_DB was written locally, WalDivergedError when a segment
  // resent before the applied position is not what was applied there (either way the position
  // is forgotten: the caller must fetch a snapshot). A segment resent before the applied
  // position in its WAL index is verified and skipped (client/apply/wal_overlap.h). The whole batch
  // is held decompressed while it is applied: the caller bounds its size (see Replica).
  uint64_t applySegments(const std::vector<ReceivedSegment>& segments);

  // The upstream continues the applied position `from` in a new generation that a promotion
  // started there (docs/promotion.md §3): LOCAL_DB is the state at `start` (that generation's
  // 0:0), and the next segment must begin its WAL there, header first. Throws Error, changing
  // nothing, unless the applied position is exactly `from` and `start` is 0:0 of another
  // generation.
  void continueGeneration(const Pos& from, const Pos& start);

  // Keeps LOCAL_DB's WAL bounded; returns true when a checkpoint ran.
  bool maybeCheckpoint();

 private:
  void installSnapshotFile();
  void savePosition();
  // Forgets a saved position that LOCAL_DB's WAL does not match (the durability invariant).
  void checkLocalWal();
  std::string localWalProblem();  // empty: LOCAL_DB is where the saved position left it
  // After a TRUNCATE checkpoint: makes the truncation durable, then the position that says so.
  void recordTruncatedWal();
  WalAppender& appender();
  // Decompresses every segment of a batch into scratch_ (one buffer, reused between batches).
  // Refuses a segment whose lz4 header declares more than a segment can hold, and one whose
  // frames stop making sense while it is decompressed (WalSegmentPrefixCheck).
  // A segment without a declared size (any valid lz4 frame is accepted) is decompressed first,
  // bounded while it is (decompressUndeclared).
  std::vector<std::span<const uint8_t>> decompressBatch(const std::vector<ReceivedSegment>& s);
  Lz4Decompressor::Content decompressUndeclared(const ReceivedSegment& s);
  void decompressDeclared(const ReceivedSegment& s, std::span<uint8_t> out, size_t declared);
  // Throws unless `size` (declared by the lz4 header, or found by decompressing) can be the
  // content of segment `s`.
  void checkSegmentSize(const ReceivedSegment& s, uint64_t size, bool declared) const;
  uint64_t applyBatch(const std::vector<ReceivedSegment>& segments);
  // Checks segment `s` (decompressed: `raw`) against `next` and advances `next` past it; nullopt
  // when it holds nothing new (all of it resent from before the applied position, verified).
  std::optional<ParsedWalSegment> checkSegment(ReplicaPosition& next, const ReceivedSegment& s,
                                               std::span<const uint8_t> raw);
  // Forgets the applied position, durably: the next stream starts with a snapshot. Takes the
  // listener's publish lock: not to be called with it held.
  void forgetPosition();
  // The listener's publish lock; an empty lock without a listener.
  std::unique_lock<std::mutex> lockPublish();
  // Tells the listener (if any) the state just published; the publish lock must be held.
  // `segments`: as AppliedStateListener::published says.
  void reportPublished(std::span<const AppliedSegment> segments = {});
  // Frees the decompression scratch when it is larger than what is kept between batches.
  void releaseLargeScratch();

  const std::string localPath_;
  const std::string positionPath_;
  RecordFile positionFile_;  // rewritten in place after every apply, flushed as above
  const std::string snapshotPath_;
  const ApplierOptions options_;
  // The most pages a database has with the linked SQLite: no page or database size beyond it
  // is accepted from the stream (a checkpoint could not copy it into LOCAL_DB).
  const uint32_t maxPageCount_;
  std::optional<ReplicaPosition> position_;
  std::string startProblem_;
  bool positionDirExists_ = false;  // made, and its name flushed, once per run
  std::unique_ptr<WalAppender> appender_;
  // Segments skip lz4's content checksum: the frame chain checked before anything is applied
  // covers every byte of a segment (the WAL header's own checksum, and each frame's salts and
  // running checksum over its header and page), so a corrupt segment is still refused.
  Lz4Decompressor lz4_{/*verifyChecksums=*/false};
  WalBatchMerger merger_;
  WalOverlap overlap_;  // a resent WAL index being verified (client/apply/wal_overlap.h)
  // The decompressed segments of the batch being applied. Kept between batches while they are
  // large (catching up), released after a small one, so that a live replica stays small.
  std::unique_ptr<uint8_t[]> scratch_;
  size_t scratchSize_ = 0;

  // Snapshot being received. snapshotStaged_: snapshotPath_ exists and is this applier's (from
  // its creation until it is renamed into place or removed), whether or not it is still open.
  UniqueFd snapshotFd_;
  bool snapshotStaged_ = false;
  std::optional<SequentialWriteback> snapshotWriteback_;  // flushes it while it arrives
  Pos snapshotPos_;
  std::optional<WalChainState> snapshotChain_;
  uint32_t snapshotPageSize_ = 0;
  uint64_t snapshotSize_ = 0;
  uint64_t snapshotReceived_ = 0;
};

}  // namespace walstream::client
