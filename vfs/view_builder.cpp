#include "vfs/view_builder.h"

#include <algorithm>

#include "backup/layout.h"
#include "backup/restore_plan.h"
#include "backup/wal_continuity.h"
#include "core/error.h"

namespace walstream::vfs {

ViewBuilder::ViewBuilder(storage::ObjectStore& store, uint64_t generation) : store_(store) {
  backup::RestoreTarget target;
  if (generation != 0) target.generation = generation;
  backup::RestorePlan plan = backup::planRestore(store, target);
  if (plan.snapshot.pageCount > kMaxWalPageNumber) {
    throw Error(store.url() + "/" + plan.snapshotKey + ": " +
                std::to_string(plan.snapshot.pageCount) + " pages, more than SQLite can address");
  }
  generation_ = plan.generation;
  snapshotAt_ = at_ = plan.snapshot.position;
  if (plan.snapshot.chain) chain_ = *plan.snapshot.chain;
  pageCount_ = snapshotPages_ = static_cast<uint32_t>(plan.snapshot.pageCount);
  capturedAtMs_ = plan.snapshot.capturedAtMs;
  snapshot_ = std::make_shared<const backup::SnapshotObjectReader>(store, plan.snapshotKey,
                                                                   std::move(plan.snapshot));
  listedUpTo_ = backup::walPrefix(generation_) + formatHex16(snapshotAt_.index);
  for (const backup::WalObjectEntry& w : plan.walObjects) {
    if (isNew(w)) applyObject(w);
    listedUpTo_ = w.key;
  }
}

bool ViewBuilder::isNew(const backup::WalObjectEntry& entry) const {
  if (lastObjectStart_) return sameGenerationBefore(*lastObjectStart_, entry.start);
  return entry.start.index >= snapshotAt_.index;
}

bool ViewBuilder::advance() {
  const Pos before = at_;
  for (const backup::WalObjectEntry& w :
       backup::listWalObjectsAfter(store_, generation_, listedUpTo_)) {
    if (isNew(w)) applyObject(w);
    listedUpTo_ = w.key;
  }
  return at_ != before;
}

std::shared_ptr<const View> ViewBuilder::view(uint64_t version) {
  auto v = std::make_shared<View>();
  v->version = version;
  v->position = at_;
  v->capturedAtMs = capturedAtMs_;
  v->pageSize = snapshot_->index().pageSize;
  v->pageCount = pageCount_;
  v->snapshot = snapshot_;
  v->snapshotPages = snapshotPages_;
  v->walPages = map_.share();
  return v;
}

void ViewBuilder::applyObject(const backup::WalObjectEntry& entry) {
  const std::string where = store_.url() + "/" + entry.key;
  if (entry.size <= kWholeObjectRead) {
    const std::string bytes = store_.read(entry.key, 0, entry.size);
    backup::WalObjectView object;
    try {
      object = backup::parseWalObject(asBytes(bytes));
    } catch (const Error& e) {
      throw Error(where + ": " + e.what());
    }
    if (object.header.start != entry.start) {
      throw Error(where + ": its header says it starts at " + object.header.start.str());
    }
    const auto* base = reinterpret_cast<const uint8_t*>(bytes.data());
    applySegments(entry, object.header, static_cast<uint64_t>(object.segments.at(0).data() - base),
                  [&](size_t i, uint64_t) { return object.segments[i]; });
  } else {
    const backup::DecodedWalObjectHeader decoded =
        backup::readDecodedWalObjectHeader(store_, entry);
    std::string frame;
    applySegments(entry, decoded.header, decoded.frameBytes, [&](size_t i, uint64_t offset) {
      const uint64_t size = decoded.header.segments[i].size;
      frame = store_.read(entry.key, offset, size);
      if (frame.size() != size) throw Error("the object ends inside the segment");
      return asBytes(frame);
    });
  }
  lastObjectStart_ = entry.start;
}

void ViewBuilder::applySegments(const backup::WalObjectEntry& entry,
                                const backup::WalObjectHeader& header, uint64_t firstFrameOffset,
                                const SegmentFetch& segmentBytes) {
  const std::string where = store_.url() + "/" + entry.key;
  if (backup::endsBeforeSnapshot(header, at_, snapshotAt_)) return;
  backup::checkWalObjectFollows(header, at_, where);
  if (header.start.index == at_.index + 1) at_ = header.start;  // the WAL restarted
  uint64_t frameOffset = firstFrameOffset;
  for (size_t i = 0; i < header.segments.size(); ++i) {
    const backup::WalObjectSegment& s = header.segments[i];
    const uint64_t thisFrame = frameOffset;
    frameOffset += s.size;
    if (backup::segmentApplied(header, s, at_)) continue;
    auto ref = std::make_shared<const WalSegmentRef>(
        WalSegmentRef{entry.key, thisFrame, s.size, s.offset, s.walBytes});
    try {
      applySegment(std::move(ref), s.capturedAtMs, segmentBytes(i, thisFrame));
    } catch (const storage::StorageError&) {
      throw;  // names the store and the key
    } catch (const Error& e) {
      throw Error(where + ": segment at WAL offset " + std::to_string(s.offset) + ": " + e.what());
    }
  }
}

void ViewBuilder::applySegment(std::shared_ptr<const WalSegmentRef> ref, int64_t capturedAtMs,
                               std::span<const uint8_t> frame) {
  if (ref->walOffset != at_.offset) {
    throw Error("does not start at " + at_.str() + ", where the view ends");
  }
  if (ref->walBytes > kMaxWalSegmentBytes) throw Error("larger than any segment may be");
  std::vector<uint8_t> bytes(ref->walBytes);
  const size_t n = decompressor_.decompress(frame, bytes);
  if (n != ref->walBytes) throw Error("decompresses to " + std::to_string(n) + " bytes");
  const ParsedWalSegment parsed = parseWalSegment(bytes, ref->walOffset, chain_);
  const uint32_t pageSize = snapshot_->index().pageSize;
  if (parsed.header && parsed.header->pageSize != pageSize) {
    throw Error("its WAL header says page size " + std::to_string(parsed.header->pageSize) +
                ", the snapshot " + std::to_string(pageSize));
  }
  for (const WalTransaction& txn : parsed.transactions) {
    const uint32_t size = txn.commitSize();
    if (size < pageCount_) {
      map_.truncate(size);
      snapshotPages_ = std::min(snapshotPages_, size);
    }
    for (const WalFrameView& f : txn.frames) {
      // Pages past the commit's size are spills of a transaction that then shrank the database.
      if (f.header.pageNumber > size) continue;
      map_.put(f.header.pageNumber,
               WalPage{ref, static_cast<uint32_t>(f.page.data() - bytes.data())});
    }
    pageCount_ = size;
    capturedAtMs_ = capturedAtMs;
  }
  at_.offset = parsed.endOffset;
}

}  // namespace walstream::vfs
