// What a restore reads: one snapshot and the WAL objects after it, chosen for a target (the
// latest state, a position, a time, or the latest state of a generation); docs/backup.md §7.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "backup/catalog.h"
#include "backup/snapshot_object.h"
#include "core/pos.h"
#include "storage/object_store.h"

namespace walstream::backup {

struct RestoreTarget {
  std::optional<Pos> pos;              // the last commit at or before it
  std::optional<int64_t> timestampMs;  // the segments captured at or before it (Unix ms)
  std::optional<uint64_t> generation;  // that generation's latest state (or its pos/time)
  std::string describe() const;        // for messages: "the latest state", "position ...", ...
};

struct RestorePlan {
  uint64_t generation = 0;
  std::string snapshotKey;
  SnapshotIndex snapshot;
  // From the object that holds the snapshot's position (or starts at it) on, in position
  // order, up to the last one the target may need.
  std::vector<WalObjectEntry> walObjects;
};

// Throws Error with a one-line reason a person can act on: an empty store, a generation or
// position the store does not hold, a time before the oldest snapshot (naming the oldest
// restorable time). A time after the newest capture restores the newest state.
RestorePlan planRestore(storage::ObjectStore& store, const RestoreTarget& target);

}  // namespace walstream::backup
