// The replica-side WAL appender (docs/replica-apply.md, docs/sqlite-wal.md §7): applies whole
// primary transactions to a replica database by appending them to the replica's own -wal and
// wal-index, following SQLite's writer protocol, while stock SQLite readers read the replica.
//
// Readers must never see a torn page, a partial transaction, an error, or need recovery. What
// guarantees it, for every publish:
//   1. WAL_WRITE_LOCK (OFD exclusive lock on -shm byte 120) is held, so no SQLite writer,
//      checkpointer that resets the header, or recovery runs at the same time.
//   2. The validated header (both copies equal, checksum good) is the only authority on where
//      the log ends (mxFrame); frames are written after it with its salts, continuing its
//      checksum chain in its byte order (a new WAL is started when mxFrame is 0, docs/sqlite-wal.md
//      §7.3).
//   3. Order: frames -> fsync -> hash-table entries (growing the -shm first) -> header copy 1 ->
//      fence -> header copy 0. Readers that began earlier ignore frames after their own mxFrame;
//      new readers see all of a publish or none of it. One publish covers whole transactions.
//   4. Nothing else of the wal-index is touched (nBackfill, read marks, nBackfillAttempted), and
//      the database file is never written: SQLite's own checkpoints copy frames into it.
//
// Attach (docs/sqlite-wal.md §7.1): a stock read-write SQLite connection on the replica is opened
// and kept (it performs the DMS handshake and any recovery, and runs checkpoints). The db, -wal and
// -shm are each opened once and never closed while that connection exists (closing a descriptor
// would drop its POSIX locks, docs/sqlite-wal.md §4.5). OFD read locks on the db SHARED range and
// the -shm DMS byte are held for the appender's life, so no closing connection deletes the WAL and
// no newcomer truncates the -shm under the mappings. Destroy an appender only after every other
// SQLite connection to the replica in this process is closed: closing its descriptors drops the
// process's POSIX locks on those files, SQLite's included.
//
// Local writes: the replica must have no other writer. The appender remembers the header it last
// saw or published; if the next append finds a header that neither equals it nor is explained by
// a SQLite checkpoint that reset the WAL (mxFrame 0 with iChange, nPage and aFrameCksum
// unchanged: TRUNCATE keeps them, while every commit bumps iChange), or if the WAL file disagrees
// with the header, it throws ReplicaModifiedError and the caller re-snapshots. Doubtful cases err
// towards a false alarm (a needless snapshot). Not seen: writes made while no appender was
// attached (the caller can compare readHeader() with a state it saved beside its position), and
// local writes checkpointed away when a recovery then rebuilt an empty WAL (mxFrame 0 before and
// after, iChange reset).
//
// Not thread-safe: one thread drives an appender.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "client/apply/wal_index_hash.h"
#include "core/error.h"
#include "core/file_system.h"
#include "core/file_util.h"
#include "core/ofd_lock.h"
#include "core/sqlite_conn.h"
#include "core/wal_index.h"
#include "core/wal_segment.h"

namespace walstream {

// The replica was written by something other than this appender; re-snapshot it.
class ReplicaModifiedError : public Error {
 public:
  using Error::Error;
};

struct WalAppenderOptions {
  // How long an append waits for WAL_WRITE_LOCK before reporting Busy. SQLite holds it only
  // while it checkpoints with TRUNCATE/RESTART/FULL or runs recovery.
  std::chrono::milliseconds writeLockTimeout{250};
  // fsync the new WAL header and the frames before publishing. Without it a power failure may
  // take transactions that readers saw (the replica then detects it: replica_applier.h).
  bool syncWal = true;
  // How many times an invalid wal-index header is handed to SQLite's recovery before giving up.
  int recoveryAttempts = 3;
  // The appender's own writes and syncs of the -wal, and the writes that grow the -shm, go
  // through it (core/file_system.h); SQLite's I/O does not. Never null; must outlive the
  // appender.
  FileSystem* fileSystem = &realFileSystem();
  // Test hook: runs under WAL_WRITE_LOCK after the frames and hash-table entries of an append or
  // snapshot are stored, just before the header is published. Throwing from it abandons the
  // write as a process dying at that point would: nothing is published and the lock is released.
  std::function<void()> beforePublish{};
};

enum class AppendStatus {
  Applied,  // published
  Busy,     // WAL_WRITE_LOCK was not granted in time; nothing was written; retry later
};

struct AppendResult {
  AppendStatus status = AppendStatus::Busy;
  uint32_t mxFrame = 0;           // the replica WAL's last frame after the publish
  uint32_t nPage = 0;             // database size in pages after the last transaction
  Checksum frameChecksum;         // running checksum after mxFrame
  std::array<uint8_t, 8> salt{};  // the replica WAL's salts (its generation)
  uint32_t framesWritten = 0;
  bool startedNewWal = false;  // mxFrame was 0: a new WAL header (and salts) was written
};

class WalAppender {
 public:
  // Attaches to an existing replica database in WAL mode (header bytes 18/19 == 2). Throws Error
  // when it is missing, not in WAL mode, or locked by a connection that is closing or runs in
  // locking_mode=EXCLUSIVE.
  explicit WalAppender(const std::string& dbPath, WalAppenderOptions options = {});
  ~WalAppender();
  WalAppender(const WalAppender&) = delete;
  WalAppender& operator=(const WalAppender&) = delete;

  uint32_t pageSize() const { return pageSize_; }
  const std::string& path() const { return dbPath_; }

  // Flushes the WAL's data to the device (what syncWal does at every publish).
  void syncWal();

  // Appends whole transactions (each a run of frames ending in its commit frame; the frames'
  // salts and checksums are ignored and recomputed) and publishes them together. Input errors
  // (page size other than the replica's, no transactions, an empty transaction, a commit frame
  // that is not last, page number 0, page image of the wrong size) throw Error before any lock
  // is taken. Throws ReplicaModifiedError on a local write (see above), Error on I/O failure.
  [[nodiscard]] AppendResult appendTransactions(uint32_t pageSize,
                                                std::span<const WalTransaction> transactions);

  // Applies a whole database image as ONE transaction while readers may be reading: every page
  // becomes a frame, and the commit frame's size is the image's page count, so a smaller image
  // shrinks the database. Page 1 is taken verbatim and must be a WAL-mode header of the same
  // page size. The image arrives in byte chunks of any size; memory stays bounded.
  //
  // WAL_WRITE_LOCK is held from beginSnapshot to commitSnapshot/abortSnapshot: the frames go to
  // the offsets that the validated header fixes, and only that lock keeps a TRUNCATE checkpoint
  // from truncating or restarting the WAL under them. Holding it long costs readers nothing:
  // they take it only when they catch a header mid-publish, which happens only inside
  // commitSnapshot. It does make TRUNCATE checkpoints report busy meanwhile (PASSIVE ones still
  // run). The order frames -> fsync -> entries -> header is kept: entries are inserted at commit.
  //
  // beginSnapshot returns Busy when the lock was not granted in time (nothing happened).
  // Any Error thrown by addSnapshotBytes or commitSnapshot abandons the snapshot. Destroying the
  // appender or abortSnapshot() abandons it too: the written frames are never published and the
  // next append overwrites them. No local-write check is made: the image replaces everything.
  [[nodiscard]] AppendStatus beginSnapshot(uint32_t pageSize);
  void addSnapshotBytes(std::span<const uint8_t> bytes);
  [[nodiscard]] AppendResult commitSnapshot();
  void abortSnapshot() noexcept;
  bool snapshotInProgress() const { return snapshot_ != nullptr; }

  // PRAGMA wal_checkpoint(PASSIVE) on the kept connection: copies frames into the database up to
  // the oldest reader's mark; needs no WAL_WRITE_LOCK.
  CheckpointResult checkpointPassive();
  // PRAGMA wal_checkpoint(TRUNCATE), waiting up to busyTimeout for readers and the write lock.
  // True when it completed (the WAL is empty and truncated; the next append starts a new WAL).
  // False while a snapshot is in progress (this appender holds the write lock).
  bool checkpointTruncate(std::chrono::milliseconds busyTimeout);

  // The published mxFrame: the WAL's size in frames, for checkpoint thresholds.
  uint32_t walFrameCount();
  // The current validated wal-index header (nullopt if it stays torn or invalid for a while).
  std::optional<WalIndexHeader> readHeader();
  // Whether the wal-index header is still the one this appender last published or attached to
  // (or that state's TRUNCATE reset): false once a local write has come since, or when the
  // header stays unreadable. Read without the write lock: a write made after it is not seen.
  bool unmodified();

 private:
  struct FramePosition;  // where the next frame goes, under the write lock
  struct SnapshotState;

  // Takes WAL_WRITE_LOCK and returns the validated header, letting SQLite recover an invalid
  // one. nullopt when the lock is busy; `recovered` tells whether recovery was needed.
  std::optional<WalIndexHeader> lockWithValidHeader(OfdLock& writeLock, bool& recovered);
  void checkUnmodified(const WalIndexHeader& now, bool recovered) const;
  void checkWalMatchesHeader(const WalIndexHeader& h);
  FramePosition prepareWrite(const WalIndexHeader& h);
  FramePosition startNewWal(const WalIndexHeader& h);
  void writeFrame(FramePosition& pos, uint32_t page, uint32_t commitSize, const uint8_t* data);
  void flushFrames(FramePosition& pos);
  // Extends the WAL with zeros to well past `end` when it is shorter than `end`.
  void preallocateWal(uint64_t end);
  // Runs the test hook, then publishes the header for frames up to pos.nextFrame - 1 (written,
  // synced, and their hash-table entries stored) and remembers it.
  AppendResult publish(FramePosition& pos, WalIndexHeader h, uint32_t nPage);
  void writeSnapshotPage(const uint8_t* page, uint32_t commitSize);
  void checkSnapshotPageOne(const uint8_t* page);

  std::string dbPath_;
  std::string walPath_;
  std::string shmPath_;
  WalAppenderOptions options_;
  uint32_t pageSize_ = 0;
  // Declared before the connection so that they are closed after it (docs/sqlite-wal.md §4.5).
  UniqueFd dbFd_;
  UniqueFd walFd_;
  UniqueFd shmFd_;
  OfdLock dbSharedLock_;
  OfdLock dmsLock_;
  std::unique_ptr<WalIndexFile> index_;
  std::optional<WalIndexHeader> lastSeen_;  // what this appender last published or attached to
  std::vector<uint8_t> frameBuffer_;        // encoded frames not yet written
  std::unique_ptr<SnapshotState> snapshot_;
  std::unique_ptr<SqliteConnection> conn_;  // destroyed first
};

}  // namespace walstream
