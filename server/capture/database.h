// Capture of one live SQLite database into its shadow WAL (docs/design.md §1, docs/capture.md).
//
// Threads: open(), sync() and run() belong to one capture thread, which alone uses the SQLite
// connections. Every other public member is thread-safe and may be called from any thread, but
// those marked "blocking" do disk or SQLite work and must not run on an event loop thread.
//
// Invariants:
//  - Pin: from open() to close() the capture thread always holds a SQLite read transaction on
//    one of two pin connections; a pin is moved forward by beginning the new one before ending
//    the old one, and only after copying up to the old pin's mark. While any pin is held, the
//    WAL can restart only when every frame of it has been copied (docs/capture.md §4), so a change
//    of WAL salts seen while pinned is a proven restart: the generation continues at index + 1.
//  - Only frames up to the mxFrame of a validated wal-index header are copied, each checked
//    against the salts and the running checksum chain, and only whole transactions.
//  - A new segment goes to live iterators from memory first, and is listed in inFlight_ until
//    its file is written; only then does position() move past it. So every reader of the
//    shadow WAL on disk (resume checks, snapshots, listings) finds a file for every segment
//    before position(), and an iterator opened meanwhile gets the in-flight ones from memory.
//  - Segment files become durable, data and name, before the WAL may restart (shadow_wal.h),
//    so a power failure never loses a captured frame that is not still in the WAL. A replica
//    may hold frames that a power failure took from the primary's WAL (synchronous=NORMAL
//    does not sync commits); its resume checksum then differs and it gets a snapshot.
//  - The application's files are opened once each (db, -wal, -shm) and closed only after every
//    SQLite connection of this Database (docs/sqlite-wal.md §4.5).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <vector>

#include "core/file_system.h"
#include "core/file_util.h"
#include "core/pos.h"
#include "core/record_file.h"
#include "core/wal_format.h"
#include "server/capture/capture_metrics.h"
#include "server/capture/segment_file_pool.h"
#include "server/capture/segment_iterator.h"
#include "server/capture/shadow_wal.h"
#include "server/capture/snapshot.h"
#include "server/capture/stream_source.h"
#include "server/capture/wal_capture.h"

namespace walstream {

struct CaptureOptions {
  std::chrono::milliseconds monitorDelay{0};  // batch changes for this long after a wake-up
  uint32_t minCheckpointPages = 1000;         // PASSIVE checkpoint + WAL restart past this
  uint32_t maxCheckpointPages = 10000;        // checkpoint waiting for readers past this
  std::chrono::milliseconds checkpointInterval{60000};  // checkpoint a non-empty WAL this often
  uint32_t shadowRetention = 32;                 // WAL indexes kept in the current generation
  std::chrono::milliseconds pollInterval{1000};  // fallback wake-up when no inotify event comes
  std::chrono::milliseconds busyTimeout{1000};   // bound on waits for the application's locks
  // Every write, sync, rename and removal of capture's own files (segments, spare files, the
  // generation and position files, their directories) goes through it (core/file_system.h);
  // tests substitute one that fails. Never null; must outlive the Database.
  FileSystem* fileSystem = &realFileSystem();
  // Test hook: runs on the capture thread each time capture opens, after the shadow WAL was read
  // and just before it waits for the application's write lock.
  std::function<void()> beforeOpenLock{};
  // Test hook: runs on the capture thread each time a checkpoint's hand-off has found capture
  // close enough behind the WAL and is about to wait for the application's write lock.
  std::function<void()> beforeHandOffLock{};
  // Test hook: runs on the checkpoint worker each time it is about to move capture's pin.
  std::function<void()> beforeMovePin{};
  // Test hook: runs in openIterator() after each listing of segment files made without the
  // Database's lock, before the lock is taken again.
  std::function<void()> afterUnlockedListing{};
  // Test hook: runs on the capture thread at the end of each sync, before it waits for a change.
  std::function<void()> afterSync{};
};

// The primary's StreamSource (stream_source.h), with read-your-writes rounds.
class Database final : public StreamSource, public CaptureRounds {
 public:
  Database(std::string path, CaptureOptions options);
  ~Database() override;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;

  const std::string& path() const override { return path_; }
  std::string name() const override;  // the file name, as served over HTTP
  const ShadowWal& shadow() const override { return shadow_; }
  const CaptureOptions& options() const { return options_; }
  // The WAL is checkpointed past max-checkpoint-pages, and one sync publishes at most the WAL.
  uint32_t maxPublishPages() const override { return options_.maxCheckpointPages; }

  // --- capture thread ---
  // Opens the database (switching a rollback-journal database to WAL), pins the WAL, and
  // validates the shadow WAL against it, starting a new generation when continuity is not proven.
  void open();
  // Copies newly committed frames into a segment and publishes it; runs checkpoints when due.
  void sync();
  // open(), then sync() on every change until stop is requested; errors close and reopen with
  // a backoff. Returns after releasing every lock.
  void run(std::stop_token stop);
  void close();

  // --- any thread ---
  uint32_t pageSize() const override;
  // The end of what live streams have been sent; empty until open() succeeded.
  Pos position() const override;
  // The end of the segments in files: what listings, resume checks and snapshots can use.
  // At most a few milliseconds behind position(); equal to it after syncBarrier().
  Pos writtenPosition() const override;
  bool healthy() const override;
  std::string healthReason() const override;  // why not healthy ("" when healthy)
  CaptureMetrics& metrics() { return metrics_; }
  const CaptureMetrics* captureMetrics() const override { return &metrics_; }
  CaptureRounds* captureRounds() override { return this; }

  // Every segment at or after `from` (same generation; `from` must be a segment boundary),
  // registered so that capture appends later segments. When the generation changes, the
  // iterator ends with IteratorEnd::kGenerationChanged; when capture stops, with kClosed.
  // Blocking.
  std::shared_ptr<SegmentIterator> openIterator(const Pos& from) override;

  // Waits until a sync that starts after this call has finished, with every segment it copied
  // in a file; returns the position then. nullopt on timeout, when that sync failed, or when
  // capture is not running. Blocking.
  std::optional<Pos> syncBarrier(std::chrono::milliseconds timeout) override;

  // Read-your-writes without blocking (docs/read-your-writes.md). Capture works in copy rounds:
  // open()'s catch-up and each sync's copy, numbered from 1 in the order they start. A round
  // reads the wal-index header after it starts and copies every frame committed up to it, so a
  // round that starts after a moment has captured every commit made before that moment.
  //
  // The number of the next round to start (the first one that starts after this call), and
  // capture is woken to start it now. Never blocks on disk or SQLite.
  uint64_t requestCaptureRound() override;
  // The position published to live streams once round `round`, or a later one, has published
  // its segments; nullopt before.
  std::optional<Pos> capturedThrough(uint64_t round) const override;
  // Called on the capture thread after each publish of segments to live streams (and after a
  // round published nothing new), once position() shows it. It must not block (it posts and
  // returns). Empty: none. Replaces the previous listener; once this returns, the previous one
  // is not running and will not run.
  void setPublishListener(std::function<void()> listener) override;

  // The database image at a published position (see snapshot.h). Blocking; throws Error when
  // capture is not running or on I/O errors.
  //
  // With `shareWithin` > 0, an image opened (with sharing) less than that long ago in the
  // current generation, and still read by someone, is reused instead of opening a new one: its
  // position may be older, but the stream continues from it with the segments after it, which
  // its lease keeps from retention. Callers that ask with sharing are served one at a time, so
  // clients that ask together (replicas bootstrapping at once, a burst of requests) cost one
  // read transaction, one sync barrier and one overlay per window, not one each. The image
  // lives only as long as its readers.
  //
  // `wanted`, when set, is asked between the steps of opening a new image (before the read
  // transaction, after the sync barrier, before each segment of the overlay); once it answers
  // false, the opening stops and throws SnapshotAbandoned, releasing its read transaction. So a
  // client that has gone does not keep a worker busy reading a large index for nobody.
  std::unique_ptr<SnapshotReader> openSnapshot(
      std::chrono::milliseconds shareWithin = std::chrono::milliseconds(0),
      const std::function<bool()>& wanted = {}) override;

  // Keeps every WAL index of `from`'s generation at or after `from.index` out of the shadow
  // WAL's retention for as long as the returned hold lives, without an iterator (whose queue
  // would hold published segments in memory). A consumer that falls behind, such as a backup
  // whose store is down, holds its place this way and opens an iterator again later. advance()
  // moves the hold forward; it never moves back.
  class RetentionHold {
   public:
    RetentionHold(uint64_t generation, uint64_t index) : generation_(generation), index_(index) {}
    void advance(const Pos& to);
    uint64_t generation() const { return generation_; }
    uint64_t index() const { return index_.load(std::memory_order_relaxed); }

   private:
    const uint64_t generation_;
    std::atomic<uint64_t> index_;
  };
  std::shared_ptr<RetentionHold> holdRetention(const Pos& from);

  // Wakes the capture thread (used by tests and by stop requests).
  void wake();

 private:
  friend class DatabaseSnapshotReader;
  struct SnapshotImage;  // database_snapshot.cpp: what every reader of one snapshot shares

  // Publishes what a sync or open produced: publishLive(), then publishWritten().
  void publish(const CaptureSync& result);
  // Segments to live iterators (and inFlight_), before their files are written.
  void publishLive(const CaptureSync& result);
  // The position, once every segment before it has its file; retention.
  void publishWritten(const CaptureSync& result);
  void failIterators(IteratorEnd reason, const std::string& message);  // requires mu_
  // A copy round begins (before it reads the wal-index header) and returns its number; then,
  // once its segments are published to live streams, roundPublished() tells waiters.
  uint64_t beginCopyRound();
  void roundPublished(uint64_t round);
  void waitForChange(std::stop_token& stop, int inotifyFd);
  // Revokes every snapshot lease, then closes the capture's connections and descriptors.
  void closeCapture(const std::string& reason);
  // Opens a new snapshot image (openSnapshot without sharing). Blocking.
  std::shared_ptr<SnapshotImage> openImage(const std::function<bool()>& wanted);

  // A live snapshot reader's hold on the capture it began under. Closing capture closes its
  // descriptors on -wal and -shm, and closing any descriptor drops every POSIX lock this process
  // holds on that file (file_util.h), the snapshot reader's read lock included: the application
  // could then restart or truncate the WAL under the snapshot and copy newer pages into the
  // database file it reads. So closeCapture() first revokes each lease: under its mutex it
  // closes the reader's connection and marks it revoked, and a revoked reader fails instead of
  // reading. A reader holds the mutex while it reads pages.
  //
  // A lease also keeps the shadow WAL's index it reads (from registration, when it is at or
  // below the snapshot's) from retention until the reader is gone.
  struct SnapshotLease {
    explicit SnapshotLease(std::atomic<int64_t>& counter) : open(counter) { open.fetch_add(1); }
    ~SnapshotLease() { open.fetch_sub(1); }
    SnapshotLease(const SnapshotLease&) = delete;
    SnapshotLease& operator=(const SnapshotLease&) = delete;

    std::atomic<int64_t>& open;  // CaptureMetrics::snapshotsOpen
    std::mutex mu;
    bool revoked = false;
    std::unique_ptr<SqliteConnection> connection;  // holds the read transaction
    uint64_t generation = 0;                       // set under Database::mu_ at registration
    std::atomic<uint64_t> index{0};
  };
  // Registers a lease for a new snapshot and begins its read transaction. Blocking.
  std::shared_ptr<SnapshotLease> beginSnapshotRead();
  // The lowest WAL index of `generation` that a live iterator, snapshot or retention hold may
  // still need.
  uint64_t retentionFloor(uint64_t generation);

  const std::string path_;
  const CaptureOptions options_;
  ShadowWal shadow_;
  CaptureMetrics metrics_;
  // The application's database file, opened once and closed only after every SQLite connection
  // of this Database, snapshot readers included (file_util.h invariant). Snapshot readers
  // read pages through it.
  UniqueFd dbFd_;
  UniqueFd wakeFd_;  // eventfd: wake() and stop requests interrupt the capture thread's wait
  std::unique_ptr<WalCapture> capture_;  // capture thread only
  RecordFile positionFile_;              // capture thread only; not durable (shadow_wal.h)
  SegmentFilePool segmentFiles_;         // capture thread only
  // waitForChange()'s next look at frames whose commit is not published yet; capture thread only.
  std::chrono::milliseconds unpublishedRecheck_{2};

  // Shared with other threads, under mu_.
  mutable std::mutex mu_;
  std::condition_variable syncDone_;
  Pos position_;  // writtenPosition()
  Pos live_;      // position()
  uint32_t pageSize_ = 0;
  std::string healthReason_ = "starting";
  bool running_ = false;
  // One numbering serves read-your-writes and syncBarrier(): copy rounds, open()'s catch-up and
  // each sync, numbered from 1 in the order they start (a sync is known by its round's number).
  // Three marks follow them, each moving forward only:
  //  - a round is published once its segments are in live_ (before their files are written:
  //    /sync answers from here, off the disk's path);
  //  - a sync is finished once its files, position and checkpoint are done, failed or not;
  //  - a sync is good when it succeeded and left no copied segment without a file.
  uint64_t copyRoundsStarted_ = 0;    // requestCaptureRound(), syncBarrier()
  uint64_t copyRoundsPublished_ = 0;  // the last round whose segments are in live_
  uint64_t lastSyncFinished_ = 0;     // the round of the last sync that finished, failed or not
  uint64_t lastGoodSync_ = 0;         // the round of the last sync that was good
  bool flushRequested_ = false;       // the next sync writes its segments into a file at once
  std::vector<std::weak_ptr<SegmentIterator>> iterators_;
  std::vector<std::weak_ptr<SnapshotLease>> leases_;  // of live snapshot readers
  std::vector<std::weak_ptr<RetentionHold>> holds_;
  // Published to iterators, files not yet written: at and after position_, contiguous.
  std::vector<SegmentInfo> inFlight_;
  // The image openSnapshot(shareWithin) last opened, and when.
  std::weak_ptr<SnapshotImage> sharedSnapshot_;
  std::chrono::steady_clock::time_point sharedSnapshotAt_;

  // setPublishListener(); held while the listener runs, never with mu_.
  std::mutex listenerMu_;
  std::function<void()> publishListener_;

  // Serialises openSnapshot() calls that share, so that concurrent ones wait for one image
  // rather than each opening its own. Never taken while holding mu_.
  std::mutex sharedSnapshotOpen_;
};

}  // namespace walstream
