// Restores a database from a backup (walstream restore): the snapshot a plan chose
// (restore_plan.h), then the WAL objects after it, applied in order up to the target, into a
// new file that replaces OUT only once it is whole, durable and passes SQLite's integrity
// check (docs/backup.md §7).
//
// Every byte is checked before it is written: each snapshot block by lz4's content checksum
// and its size, each WAL object by its header's sum and its segments' frames, every WAL frame
// by the WAL's own checksum chain from the snapshot (or the WAL header) on, so a missing,
// reordered, truncated or foreign object stops the restore with an error naming it. Nothing
// is left behind on failure: the temporary file is removed and OUT is untouched.
//
// Memory is flat in the database's size: blocks and objects are downloaded ahead in parallel
// (`parallel` readers) within a fixed budget of bytes, and applied one at a time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "backup/restore_plan.h"
#include "core/pos.h"
#include "storage/object_store.h"

namespace walstream::backup {

struct RestoreProgress {
  uint64_t bytesRead = 0;   // of the backup's objects
  uint64_t bytesTotal = 0;  // of every object the plan reads
};

struct RestoreOptions {
  RestoreTarget target;
  size_t parallel = 8;
  bool replaceExisting = false;  // otherwise an existing OUT is an error
  // Bytes downloaded ahead and not yet applied, at most (a single larger object is read alone).
  uint64_t maxBytesAhead = 8 << 20;
  // Called now and then on the restoring thread.
  std::function<void(const RestoreProgress&)> onProgress;
};

struct RestoreResult {
  Pos position;              // the state OUT holds: the end of the last commit applied
  int64_t capturedAtMs = 0;  // when the primary captured that commit (or took the snapshot)
  std::string snapshotKey;
  uint64_t walObjects = 0;    // WAL objects read
  uint64_t transactions = 0;  // applied after the snapshot
  uint64_t pageCount = 0;
  uint32_t pageSize = 0;
};

// Throws Error (or StorageError) with a one-line message naming the object and the cause.
RestoreResult restoreDatabase(storage::ObjectStore& store, const std::string& outPath,
                              const RestoreOptions& options);

}  // namespace walstream::backup
