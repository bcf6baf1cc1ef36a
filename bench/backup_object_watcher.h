// Watches a backup store (a directory or S3 bucket, storage/object_store.h) for the WAL objects
// the primary's backup writes into one generation, polling the listing of its newest WAL index
// directories, and records when each object was first listed, on this process's steady clock.
// An object counts once it is listed whole (a directory store's appear by an atomic rename,
// S3's when their PUT completes; s3rver's are listed while being written, and are counted once
// the listing shows their whole size); it was whole at the latest when it was listed so, a time
// taken here errs late by at most one sweep and pause, never early.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "backup/wal_object.h"
#include "core/pos.h"
#include "storage/object_store.h"

namespace walstream::bench {

struct SeenWalObject {
  backup::WalObjectHeader header;  // where it starts and ends
  std::chrono::steady_clock::time_point listedAt;
  // For an object at offset 0 of its WAL index: the salts of the WAL header its first segment
  // begins with, which name the SQLite WAL file that index is a copy of.
  std::optional<std::pair<uint32_t, uint32_t>> walSalts;
};

class BackupObjectWatcher {
 public:
  // Starts polling `store` for WAL objects of `generation`, sleeping `pause` between sweeps.
  BackupObjectWatcher(std::unique_ptr<storage::ObjectStore> store, uint64_t generation,
                      std::chrono::microseconds pause);
  ~BackupObjectWatcher();
  BackupObjectWatcher(const BackupObjectWatcher&) = delete;
  BackupObjectWatcher& operator=(const BackupObjectWatcher&) = delete;

  // Stops polling after one last sweep, so every object published before the call is listed,
  // and returns the objects in position order (which is the order they were written in).
  // Throws walstream::Error if a sweep failed.
  std::vector<SeenWalObject> stop();
  double meanSweepMicros() const;

 private:
  void run(std::stop_token stop);
  void sweep();
  // Nothing while the object is still being written: s3rver, unlike S3, lists an object as soon
  // as its PUT starts, at the size written so far (its header says what its size will be).
  std::optional<SeenWalObject> describe(const storage::ObjectInfo& info, const Pos& start,
                                        std::chrono::steady_clock::time_point listedAt);

  const std::unique_ptr<storage::ObjectStore> store_;
  const uint64_t generation_;
  const std::chrono::microseconds pause_;
  // Poller thread state, read by stop() after the join.
  std::optional<Pos> newest_;  // start of the newest object seen
  std::vector<SeenWalObject> seen_;
  std::string error_;
  double sweepMicros_ = 0;
  uint64_t sweeps_ = 0;
  std::jthread thread_;  // last: started after every member above exists
};

}  // namespace walstream::bench
