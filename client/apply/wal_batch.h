// Merging consecutive primary transactions into one replica transaction.
//
// A replica that is behind receives many primary transactions at once; appending each as its own
// SQLite transaction writes every version of every page (one-row transactions rewrite the same
// leaf page over and over) and fills the wal-index hash chains of those pages with entries that
// every later insert and lookup walks. Applied as ONE transaction, only the last version of each
// page is written, and readers go from the state before the batch straight to the state after
// it. Both are states the primary had, so no reader sees a torn or intermediate state, or one the
// primary never had (docs/design.md §5, "What must never happen").
//
// Why the merged transaction is exactly equivalent to applying the batch one by one, for every
// reader whose snapshot is a published mxFrame (before or after the batch; no other exists):
//  - A reader looks a page up as "the latest frame <= mxFrame holding it, else the database
//    file". For every page the batch touches, the merged frame is the batch's last version, as
//    it would be one by one; pages it does not touch resolve to the same earlier frames.
//  - The database size after the batch is that of its LAST transaction (the merged commit frame
//    carries it), as one by one.
//  - Shrinking (a commit frame's nTruncate below pages written earlier in the batch, by DELETE
//    with auto_vacuum or VACUUM): the merged transaction may then hold frames for pages beyond
//    the final size. Applied one by one, the WAL holds those very frames too (from the earlier
//    transactions of the batch), so nothing new is exposed. And they are harmless: SQLite's pager
//    never reads a page beyond the database size (it reads as zeros without a lookup), and a
//    checkpoint skips frames beyond the header's nPage and truncates the file to it. They are
//    kept rather than dropped so that a later transaction that grows the database again resolves
//    every page to the same frame as one by one would (dropping them could expose an OLDER
//    version of such a page from before the batch).
//  - Checkpoints copy, per page, the latest frame up to the oldest reader's mark; marks are
//    published mxFrames, so they copy the same versions.
//
// The frames' salts and checksums (of the primary's WAL) are not carried over: the appender
// recomputes them for the replica's WAL. The primary's chain must be checked (parseWalSegment)
// before merging; a batch may span the primary's WAL restarts (a new index), since the merged
// frames are database pages and the replica's WAL has its own chain.
#pragma once

#include <cstdint>
#include <span>
#include <unordered_map>

#include "core/wal_segment.h"

namespace walstream {

// Reused between merges so that a replica catching up does not allocate per batch.
class WalBatchMerger {
 public:
  // One transaction holding, for each page written by `transactions` (in stream order, each
  // ending in its commit frame), its last version, in the order of those last versions. Its
  // last frame is the last transaction's commit frame (it is necessarily a page's last version),
  // with that transaction's database size; every other frame has commit size 0. The page views
  // point into the same bytes as the input. Throws Error when `transactions` is empty or a
  // transaction does not end with a commit frame.
  WalTransaction merge(std::span<const WalTransaction> transactions);

 private:
  std::unordered_map<uint32_t, uint32_t> lastVersion_;  // page -> index among all frames
};

}  // namespace walstream
