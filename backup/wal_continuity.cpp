#include "backup/wal_continuity.h"

#include "core/error.h"

namespace walstream::backup {

bool endsBeforeSnapshot(const WalObjectHeader& header, const Pos& at, const Pos& snapshotAt) {
  return at == snapshotAt && header.start.index == at.index && header.endOffset() <= at.offset &&
         sameGenerationBefore(header.start, at);
}

void checkWalObjectFollows(const WalObjectHeader& header, const Pos& at, const std::string& where) {
  // The object holds the position reached, or starts the next WAL index where this one ended.
  const bool holdsAt = header.start.index == at.index && header.start.offset <= at.offset &&
                       header.endOffset() > at.offset;
  const bool startsAt = header.start == at;
  const bool nextIndex = header.start.index == at.index + 1 && header.start.offset == 0 &&
                         (header.previousIndexEnd == 0 || header.previousIndexEnd == at.offset);
  if (!holdsAt && !startsAt && !nextIndex) {
    throw Error(where + ": starts at " + header.start.str() + " (previous index end " +
                std::to_string(header.previousIndexEnd) + "), but the backup so far ends at " +
                at.str() + ": an object is missing or out of order");
  }
}

}  // namespace walstream::backup
