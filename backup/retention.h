// Which backup objects retention may remove (docs/backup.md §6).
//
// Rule: every point captured at or after the window's start W (now - retention) stays
// restorable, and the newest snapshot and everything after it always stay. The snapshot that
// restores W is S*, the newest snapshot taken at or before W; a restore of any point from W on
// starts from S* or a later snapshot. So retention removes exactly what lies before S*:
//   - in S*'s generation, the snapshots before S* and the WAL objects that end at or before
//     S*'s position;
//   - every other generation whose snapshots are all older than S* (it ended before S* was
//     taken), but never the generation being written.
// With no snapshot at or before W nothing is removed: the whole backup is inside the window.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "backup/catalog.h"
#include "backup/snapshot_object.h"

namespace walstream::backup {

struct GenerationState {
  GenerationListing listing;
  std::vector<SnapshotIndex> snapshots;  // the index of each of listing.snapshots, same order
};

// The keys to remove, in no particular order.
std::vector<std::string> planRetention(const std::vector<GenerationState>& generations,
                                       int64_t windowStartMs, uint64_t currentGeneration);

// Lists the store, plans and removes; returns how many objects were removed. Throws
// StorageError when the store cannot be listed, read or written.
size_t applyRetention(storage::ObjectStore& store, int64_t windowStartMs,
                      uint64_t currentGeneration);

}  // namespace walstream::backup
