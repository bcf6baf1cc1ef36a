// The primary's continuous backup of one database to a store (docs/backup.md §5).
//
// A thread of its own follows the shadow WAL like a stream does (Database::openIterator) and
// writes what capture publishes into the store: a snapshot object when a generation starts
// (and every snapshotInterval), then WAL objects of the segments captured since, gathered for
// at most syncInterval each. It never blocks capture or the application: a store that is slow
// or down only makes the backup fall behind, retrying with capped backoff, while a retention
// hold keeps the WAL indexes it still needs in the shadow WAL, up to maxLagBytes.
//
// Resuming: on start, and whenever the generation changes, it reads where the store's copy of
// the current generation ends (the last WAL object, or the last snapshot) and continues from
// there when the shadow WAL still has that position; otherwise it writes a snapshot.
//
// Invariant: the store's objects of one generation, read in position order from any snapshot,
// are a gapless run of the primary's WAL up to the last one: a WAL object is written only when
// it starts where the store's copy ends (a snapshot, or the previous WAL object). Anything
// else (a hole in the shadow WAL, a generation change) starts again with a snapshot.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <stop_token>
#include <string>
#include <thread>

#include "core/backoff.h"
#include "server/backup/backup_options.h"
#include "server/backup/backup_status.h"
#include "server/backup/pending_segments.h"
#include "server/capture/database.h"
#include "storage/object_store.h"

namespace walstream::backup {

class BackupWriter {
 public:
  // Starts the thread. `db` must outlive the writer.
  BackupWriter(Database& db, std::unique_ptr<storage::ObjectStore> store, BackupOptions options);
  ~BackupWriter();  // stops the thread; an object being written is abandoned, not published
  BackupWriter(const BackupWriter&) = delete;
  BackupWriter& operator=(const BackupWriter&) = delete;

  BackupStatus status() const;
  // Wakes the thread to write what is pending now, without waiting for the sync interval
  // (a clean stop; tests).
  void flush();
  // Waits (bounded) until the store holds everything captured up to `pos`; whether it does.
  bool waitForBackedUp(const Pos& pos, std::chrono::milliseconds timeout);

 private:
  void run(std::stop_token stop);
  void step(std::stop_token& stop);
  // With an iterator open: gathers published segments and writes them as WAL objects.
  void follow(std::stop_token& stop);
  void resume(uint64_t generation);
  void writeSnapshot();
  bool snapshotDue(const Pos& live) const;
  // Moves published segments from the iterator into pending_, or arms its notification when
  // there are none; drops the iterator when too much of capture's memory is queued.
  void drain();
  void writeWalObject();
  // An iterator from the store's end `end`, or from the start of the next WAL index when `end`
  // is where its index ended. Throws Error when the shadow WAL does not continue there.
  std::shared_ptr<SegmentIterator> openIteratorAt(const Pos& end);
  void closeIterator();
  void applyRetention();
  std::chrono::milliseconds retentionPeriod() const;
  void computeLag(const Pos& live);
  void failed(const std::string& message);
  void succeeded();
  // Waits until `deadline`, a stop request, flush() or a new segment (when the iterator's
  // notification is armed).
  void waitUntil(std::stop_token& stop, std::chrono::steady_clock::time_point deadline);

  Database& db_;
  const std::unique_ptr<storage::ObjectStore> store_;
  const BackupOptions options_;
  Backoff backoff_;

  // Thread state.
  uint64_t generation_ = 0;  // the generation being backed up; 0 until resume() ran
  Pos backedUp_;             // the store's end in generation_; empty when it needs a snapshot first
  bool needSnapshot_ = false;
  uint64_t lastSnapshotIndex_ = 0;
  int64_t lastSnapshotAtMs_ = 0;
  std::shared_ptr<SegmentIterator> iterator_;
  std::shared_ptr<Database::RetentionHold> hold_;
  PendingSegments pending_;  // taken from the iterator, not yet in the store
  std::chrono::steady_clock::time_point lastLagCheck_;
  std::chrono::steady_clock::time_point lastRetention_;
  int64_t caughtUpAtMs_ = 0;  // when backedUp_ last equalled capture's position

  mutable std::mutex mu_;
  std::condition_variable_any wake_;
  bool woken_ = false;   // under mu_: a segment arrived or flush() was called
  BackupStatus status_;  // under mu_
  std::string lastLoggedError_;

  std::jthread thread_;  // last: started after every member above exists
};

}  // namespace walstream::backup
