// The capture thread's machinery for one database: SQLite connections that pin the WAL, the
// application's files, and the copy of newly committed frames into shadow WAL segments.
// Used only by Database (database.h), on its capture thread. Not thread-safe.
//
// Pin protocol (docs/capture.md §4, docs/sqlite-wal.md §6.2-§6.4, with stock SQLite read
// transactions):
//   - Two pin connections; exactly one holds a read transaction ("the pin") at all times
//     between open() and destruction. movePin() begins a read transaction on the idle one
//     before ending the other. It runs on the checkpoint worker, after the segments of a job
//     were made durable; a job starts only when capture has copied its WAL up to the current
//     pin's mark (pinMark_, an upper bound recorded by whoever began the pin: exact under the
//     write lock in open() and handOff(), read after the BEGIN in movePin()). So the old pin's
//     mark is <= copied (and durable) whenever a new pin begins. A pin begun in an earlier WAL
//     than the one capture copies is replaced only by handOff(), under the write lock.
//   - Under that discipline nBackfill <= copied whenever the pin's read slot is 0, and a slot
//     >= 1 forbids restarts outright. A WAL restart needs nBackfill == mxFrame, so a restart
//     that happens while pinned loses no uncopied frame: new salts seen while pinned are a
//     proven restart (index + 1).
//   - handOff() lets the WAL restart: under the application's write lock (BEGIN IMMEDIATE on a
//     third connection) it copies the tail, ends the pin, runs a PASSIVE checkpoint and begins
//     the pin again, which lands on READ_LOCK(0) exactly when everything was backfilled.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/file_util.h"
#include "core/pos.h"
#include "core/sqlite_conn.h"
#include "core/wal_index.h"
#include "core/wal_segment.h"
#include "server/capture/capture_metrics.h"
#include "server/capture/checkpoint_worker.h"
#include "server/capture/shadow_wal.h"

namespace walstream {

struct CaptureOptions;

struct CaptureSync {
  std::vector<SegmentInfo> segments;               // written (durable later), in order
  Pos end;                                         // position after the last segment
  bool walRestarted = false;                       // the index advanced (proven restart)
  std::optional<std::string> newGenerationReason;  // continuity lost: a new generation began
};

struct CaptureStart {
  uint32_t pageSize = 0;
  bool newGeneration = false;
  std::string reason;   // why a new generation was started, for the log
  CaptureSync catchUp;  // frames copied while opening; catchUp.end is where capture stands
};

class WalCapture {
 public:
  WalCapture(const std::string& path, const CaptureOptions& options, const ShadowWal& shadow,
             SegmentFilePool& pool, CaptureMetrics& metrics);
  ~WalCapture();
  WalCapture(const WalCapture&) = delete;
  WalCapture& operator=(const WalCapture&) = delete;

  // Resumes the shadow WAL's generation when its tail matches the WAL, or starts a new
  // generation, then pins the WAL. The comparison, the catch-up copy and the first pin all run
  // under the application's write lock, which excludes commits and restarts: a pin begun before
  // the copy could sit on READ_LOCK(0) with uncopied frames, which does not stop a restart.
  CaptureStart open();

  // A sync is copyNew(), writeSegmentFiles(), checkpointIfDue(), so that new segments reach
  // live streams (from memory) before their files are written.
  //
  // Copies committed frames up to the validated mxFrame into segments held in memory: their
  // files are written by writeSegmentFiles() (or by any later call that needs them on disk).
  CaptureSync copyNew();
  // Writes the segments copied so far into one segment file (not yet durable: shadow_wal.h).
  void writeSegmentFiles();
  // True once the oldest segment not yet in a file was copied long enough ago: the caller
  // writes them, batching a few milliseconds of segments into one file.
  bool writeDue(std::chrono::steady_clock::time_point now) const;
  // When writeDue() becomes true; nullopt when every segment copied is in a file.
  std::optional<std::chrono::steady_clock::time_point> writeDeadline() const;
  // The end of the segments in files: copyNew()'s end once writeSegmentFiles() ran.
  Pos writtenEnd() const;
  // Runs a checkpoint (moving the pin forward, with a hand-off) when a threshold or the
  // interval says so. Segments it copies under the application's write lock are on disk when
  // it returns.
  CaptureSync checkpointIfDue();

  // Waits until the checkpoint worker has finished its job, if one runs.
  void waitForCheckpointWorker() { worker_->wait(); }

  // True when the wal-index shows a commit that is not copied yet (or cannot be read now).
  bool commitPending() const;
  // True when the WAL holds a frame capture has not copied: after the copied ones in the WAL
  // capture follows, or the first frame of a WAL the application started since (the first
  // after walstream started on an empty WAL, or after a restart). A transaction is being
  // written, or its commit is about to be published in the wal-index.
  bool framesBeyondCopy() const;
  // Frames beyond the copied ones whose commit the wal-index does not show yet: !commitPending()
  // and framesBeyondCopy(), the WAL read only when the wal-index shows nothing to copy.
  bool framesAwaitingCommit() const { return !commitPending() && framesBeyondCopy(); }
  // Creates the file the next segment will be written to, off the path from commit to publish.
  void prepareNextSegment();

  int walFd() const { return walFd_.get(); }
  const std::string& walPath() const { return walPath_; }

 private:
  struct Tail;  // shadow WAL tail found on disk

  Pos endPosition() const;
  WalIndexHeader readIndexHeader();
  std::optional<WalHeader> readWalHeader();
  // Begins the pin on pins_[which]; the caller records its mark (setPinMark).
  void beginPin(int which);
  // On the checkpoint worker: moves the pin to the other connection, unless the new pin's
  // mark cannot be read (then the old pin stays).
  void movePin();
  // The WAL (by its salts) and an upper bound on the read mark of the current pin.
  struct PinMark {
    uint32_t salt1 = 0;
    uint32_t salt2 = 0;
    uint32_t frames = 0;
  };
  void setPinMark(const WalIndexHeader& h);
  // True when every frame that may be backfilled while the current pin holds was copied.
  bool pinMarkCopied() const;
  // True when the pin was begun in another WAL than the one capture copies.
  bool pinInOtherWal() const;
  // Copies frames (copied, mxFrame]; appends written segments to `out`.
  void copyCommitted(CaptureSync& out);
  // copyCommitted()'s steps (docs/capture.md §2): the WAL header the wal-index `h` describes
  // (nullopt: no frame any more; `h` is re-read meanwhile), the chain that header starts or
  // continues, and the copy of the new frames into segments.
  std::optional<WalHeader> walHeaderMatching(WalIndexHeader& h);
  void startChainOrFollowRestart(const WalHeader& wh, CaptureSync& out);
  void copyFrames(const WalIndexHeader& h, CaptureSync& out);
  class SegmentBuilder;  // the segment copyFrames() is building
  // copyCommitted(), starting a new generation when the WAL does not continue the shadow WAL.
  void copyOrStartGeneration(CaptureSync& out);
  // Makes the segments copied since the last call durable (before the WAL may restart).
  void makeSegmentsDurable();
  void startGeneration(const std::string& reason, CaptureSync* out);
  bool handOff(CheckpointMode mode, CaptureSync& out);
  // How long handOff() held the write lock, and its steps under it (zero: not reached).
  struct HandOffSteps {
    std::chrono::steady_clock::duration held{}, copy{}, sync{}, backfill{};
  };
  void reportLongHold(const HandOffSteps& steps);
  // handOff()'s steps: take the write lock (false: not now), and what runs under it.
  bool lockForHandOff(CheckpointMode mode);
  bool handOffLocked(CheckpointMode mode, CaptureSync& out, HandOffSteps& steps);
  // Bytes of committed frames in the WAL that are not copied yet.
  uint64_t uncopiedBytes();
  // True when the hand-off must wait for capture to catch up (kMaxHandOffCopyBytes), counted
  // and, past the maximum WAL size, said in the log now and then.
  bool deferForCopy(CheckpointMode mode);
  void maybeCheckpoint(CaptureSync& out);
  std::optional<Tail> readShadowTail();
  // Why the WAL does not continue `tail` ("" when it does). Requires the write lock.
  std::string continuityProblem(const std::optional<Tail>& tail);

  const std::string path_;
  const std::string walPath_;
  const std::string shmPath_;
  const CaptureOptions& options_;
  const ShadowWal& shadow_;
  SegmentFilePool& pool_;
  CaptureMetrics& metrics_;

  // Declared before the connections so they are closed after them (file_util.h invariant).
  UniqueFd walFd_;
  UniqueFd shmFd_;
  ShmMapping shm_;

  std::unique_ptr<SqliteConnection> checkpointer_;
  std::unique_ptr<SqliteConnection> writer_;  // takes the write lock for the hand-off
  std::unique_ptr<SqliteConnection> pins_[2];
  // Which pin connection holds the read transaction (-1: none). The checkpoint worker moves
  // the pin while its job runs (maybeCheckpoint); the capture thread reads this meanwhile.
  std::atomic<int> pinned_{-1};
  mutable std::mutex pinMarkMu_;  // the worker writes pinMark_ while capture reads it
  PinMark pinMark_;
  std::unique_ptr<CheckpointWorker> worker_;
  // Worker passes since the last hand-off. After one, the segments before unsynced_ are durable
  // and the WAL is backfilled up to backfillTarget_.
  int workerPasses_ = 0;
  uint32_t backfillTarget_ = 0;  // mxFrame when the worker's last checkpoint was started

  // Copy state of the current WAL index.
  uint64_t generation_ = 0;
  uint64_t index_ = 0;
  uint32_t pageSize_ = 0;
  std::optional<WalChainState> chain_;  // chain at `copiedFrames_`; nullopt: WAL not seen yet
  std::optional<WalHeader> walHeader_;  // the WAL header walHeaderMatching() read last
  uint32_t copiedFrames_ = 0;
  bool indexHasSegments_ = false;
  // Copied, not yet in a file (writeSegmentFiles): consecutive segments of the current index.
  std::vector<SegmentInfo> unwritten_;
  size_t unwrittenBytes_ = 0;
  std::chrono::steady_clock::time_point firstUnwrittenAt_;
  std::vector<Pos> unsynced_;  // segments written since the last makeSegmentsDurable()
  SpareFile spare_;            // the next segment's file, when prepared
  // Reused by every copy: WAL bytes read, and the segment being built (copyCommitted).
  std::string readBuffer_;
  std::string segmentBuffer_;
  std::chrono::steady_clock::time_point lastCheckpoint_;
  std::chrono::steady_clock::time_point lastBehindReport_;  // deferForCopy()'s last warning
};

}  // namespace walstream
