// How the primary backs up one database (walstream primary --backup URL ...).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace walstream::backup {

struct BackupOptions {
  std::string url;  // the store (storage/object_store.h openObjectStore)
  // A new snapshot this long after the last one (once the WAL index has moved on: one per
  // index, docs/backup.md §2); a new generation always starts with one.
  std::chrono::milliseconds snapshotInterval = std::chrono::hours(24);
  // Objects needed only to restore points older than this are removed (docs/backup.md §6).
  std::chrono::milliseconds retention = std::chrono::hours(24);
  // WAL objects are written at most this often: segments captured meanwhile go into one
  // object. Bounds the backup's lag (commit to durable object) and the count of objects.
  std::chrono::milliseconds syncInterval = std::chrono::seconds(1);
  // Past this many bytes of WAL not yet backed up, the backup lets the shadow WAL's retention
  // go (the primary's disk is not held hostage by a dead store), reports itself unhealthy, and
  // starts over with a snapshot once the store takes writes again.
  uint64_t maxLagBytes = uint64_t{1} << 30;
};

}  // namespace walstream::backup
