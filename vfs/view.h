// One consistent state of a backed-up database as the VFS serves it: a position of the
// primary's history, the database's size then, and where each of its pages lives (the snapshot
// object, or a WAL segment after it). docs/vfs.md §2.
//
// Views are immutable once published (shared_ptr<const View>): a file keeps the view it adopted
// for a whole read transaction while the poller publishes newer ones, so a query never sees a
// mix of two positions.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "backup/snapshot_object.h"
#include "core/pos.h"
#include "vfs/page_map.h"

namespace walstream::vfs {

struct View {
  // Increases with every view a backup source publishes, across generations: the VFS serves it
  // as page 1's change counter (vfs_file.h), which is how SQLite learns that its cache is stale.
  uint64_t version = 0;
  Pos position;              // the end of the last commit the view holds
  int64_t capturedAtMs = 0;  // when the primary captured that commit (or took the snapshot)
  uint32_t pageSize = 0;
  uint32_t pageCount = 0;  // the last commit's database size
  // The snapshot the view starts from, with its index (no request to read a block).
  std::shared_ptr<const backup::SnapshotObjectReader> snapshot;
  // Pages up to this one that the WAL does not hold come from the snapshot; past it they are
  // zeros (a commit shrank the database below the snapshot's size, and it grew again since).
  uint32_t snapshotPages = 0;
  PageMap walPages;
};

}  // namespace walstream::vfs
