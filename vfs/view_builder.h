// Builds the views of one generation of a backup: the snapshot a restore of the latest state
// would start from (backup/restore_plan.h), then the WAL objects after it, read once each and
// segment by segment, learning which pages each committed transaction wrote. Every frame is
// checked along the WAL's checksum chain from the snapshot on, and objects must follow each
// other, as a restore checks them (backup/wal_continuity.h). docs/vfs.md §3.
//
// Memory: the page map, and one WAL object (at most kWholeObjectRead bytes) or one segment at a
// time while it is read; no page content is kept.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backup/catalog.h"
#include "core/lz4_codec.h"
#include "core/pos.h"
#include "core/wal_segment.h"
#include "storage/object_store.h"
#include "vfs/view.h"

namespace walstream::vfs {

// A WAL object up to this size is read with one request; a larger one header first, then one
// request per segment.
inline constexpr uint64_t kWholeObjectRead = uint64_t{4} << 20;

class ViewBuilder {
 public:
  // Plans the latest state of `generation` (of the whole store when 0) and applies the WAL
  // objects after its snapshot. Throws StorageError, or Error with a one-line reason (an empty
  // store, a broken chain).
  ViewBuilder(storage::ObjectStore& store, uint64_t generation = 0);

  // Lists the generation's WAL objects after the last one listed (one request for a poll with
  // nothing new, however long the generation) and applies them; returns whether the view moved.
  // Throws as the constructor does; what was applied before the failing object stays applied,
  // and the next call lists that object again.
  bool advance();

  // The state so far, as an immutable view numbered `version`.
  std::shared_ptr<const View> view(uint64_t version);

  uint64_t generation() const { return generation_; }
  const Pos& position() const { return at_; }
  int64_t capturedAtMs() const { return capturedAtMs_; }  // of the newest commit applied

 private:
  // Whether `entry` is past what was applied: after the last object applied, or, before any,
  // in the snapshot's WAL index or a later one.
  bool isNew(const backup::WalObjectEntry& entry) const;
  void applyObject(const backup::WalObjectEntry& entry);
  // Segment i's LZ4 frame, which starts at byte frameOffset of the object.
  using SegmentFetch = std::function<std::span<const uint8_t>(size_t i, uint64_t frameOffset)>;
  // Applies the object's segments past at_.
  void applySegments(const backup::WalObjectEntry& entry, const backup::WalObjectHeader& header,
                     uint64_t firstFrameOffset, const SegmentFetch& segmentBytes);
  void applySegment(std::shared_ptr<const WalSegmentRef> ref, int64_t capturedAtMs,
                    std::span<const uint8_t> frame);

  storage::ObjectStore& store_;
  uint64_t generation_ = 0;
  std::shared_ptr<const backup::SnapshotObjectReader> snapshot_;
  Pos snapshotAt_;
  Pos at_;
  std::optional<Pos> lastObjectStart_;  // of the last object applied (or skipped as applied)
  // Listings start after this key: the last object applied or skipped, or, before any, the
  // snapshot's WAL index (its objects and later ones sort after it).
  std::string listedUpTo_;
  WalChainState chain_;
  uint32_t pageCount_ = 0;
  uint32_t snapshotPages_ = 0;
  int64_t capturedAtMs_ = 0;
  PageMap map_;
  Lz4Decompressor decompressor_{false};  // the WAL chain checks every byte
};

}  // namespace walstream::vfs
