// Whether a WAL object continues a state rebuilt from a backup (docs/backup.md §7): the rules a
// restore applies between objects, shared with every reader that replays WAL objects after a
// snapshot (the restorer, the read-only VFS of vfs/).
#pragma once

#include <string>

#include "backup/wal_object.h"
#include "core/pos.h"

namespace walstream::backup {

// An object that ends at or before `snapshotAt` in the snapshot's own index, while nothing
// after the snapshot was applied yet (`at` == `snapshotAt`): a snapshot written ahead of the WAL
// objects by an older primary, which then went on from the snapshot. Nothing in it applies.
bool endsBeforeSnapshot(const WalObjectHeader& header, const Pos& at, const Pos& snapshotAt);

// Throws Error("<where>: starts at ..., but the backup so far ends at ...") unless the object
// holds `at` (the end of the state applied so far), starts at it, or starts the next WAL index
// where `at`'s ended.
void checkWalObjectFollows(const WalObjectHeader& header, const Pos& at, const std::string& where);

// The segments of an object that follows `at` (checkWalObjectFollows) that lie wholly before it
// in the same index were applied already: skip them.
inline bool segmentApplied(const WalObjectHeader& header, const WalObjectSegment& segment,
                           const Pos& at) {
  return segment.offset + segment.walBytes <= at.offset && header.start.index == at.index;
}

}  // namespace walstream::backup
