#include "client/apply/wal_index_hash.h"

#include <unistd.h>

#include <algorithm>

#include "core/error.h"
#include "core/file_util.h"

namespace walstream {

namespace {

// SQLite grows the -shm in units of this size, whatever the system page size.
constexpr uint64_t kShmGrowthUnit = 4096;

size_t slotOffset(uint32_t slot) {
  return kWalIndexHashTableOffset + 2 * size_t{slot};
}

[[noreturn]] void corrupt(const std::string& path, uint32_t block, const std::string& what) {
  throw Error("corrupt wal-index hash table in block " + std::to_string(block) + " of " + path +
              ": " + what);
}

}  // namespace

WalIndexFile::WalIndexFile(int fd, std::string path, bool writable, FileSystem& fs)
    : fd_(fd), path_(std::move(path)), writable_(writable), fs_(fs) {
  const long systemPage = ::sysconf(_SC_PAGESIZE);
  if (systemPage <= 0 || kShmBlockSize % static_cast<size_t>(systemPage) != 0) {
    throw Error("cannot map the wal-index " + path_ + " in 32 KiB blocks: system page size is " +
                std::to_string(systemPage));
  }
}

uint8_t* WalIndexFile::block(uint32_t k) {
  if (k < blocks_.size()) return blocks_[k].data();
  const uint64_t size = fileSize(fd_, path_);
  if (size < uint64_t{kShmBlockSize} * (k + 1)) return nullptr;
  while (blocks_.size() <= k) {
    blocks_.emplace_back(fd_, kShmBlockSize * blocks_.size(), kShmBlockSize, writable_, path_);
  }
  return blocks_[k].data();
}

uint8_t* WalIndexFile::extendToBlock(uint32_t k) {
  if (uint8_t* b = block(k)) return b;
  if (!writable_) throw Error("cannot grow the wal-index " + path_ + ": mapped read-only");
  const uint64_t need = uint64_t{kShmBlockSize} * (k + 1);
  const uint64_t size = fileSize(fd_, path_);
  // Writing only beyond the current end never touches live content; the last byte of each new
  // page allocates it, so a full disk fails here rather than with SIGBUS on first access.
  for (uint64_t page = size / kShmGrowthUnit; page < need / kShmGrowthUnit; ++page) {
    const uint8_t zero = 0;
    fs_.pwriteFull(fd_, &zero, 1, page * kShmGrowthUnit + kShmGrowthUnit - 1, path_);
  }
  uint8_t* b = block(k);
  if (!b) throw Error("wal-index " + path_ + " did not grow to " + std::to_string(need) + " bytes");
  return b;
}

uint32_t WalIndexFile::findFrame(uint32_t page, uint32_t maxFrame, uint32_t minFrame) {
  minFrame = std::max<uint32_t>(minFrame, 1);
  if (maxFrame < minFrame) return 0;
  const uint32_t key = walIndexHashKey(page);
  for (uint32_t k = walIndexBlockOf(maxFrame) + 1; k-- > walIndexBlockOf(minFrame);) {
    const uint8_t* b = block(k);
    if (!b) {
      throw Error("wal-index " + path_ + " has no block " + std::to_string(k) + " for frame " +
                  std::to_string(maxFrame));
    }
    const uint32_t base = walIndexBlockBase(k);
    const uint32_t capacity = walIndexBlockCapacity(k);
    uint32_t best = 0;
    uint32_t s = key;
    for (uint32_t probes = 0;; ++probes) {
      const uint16_t v = shmLoad16(b, slotOffset(s));
      if (v == 0) break;
      if (v > capacity) corrupt(path_, k, "slot value " + std::to_string(v) + " out of range");
      if (probes >= kWalIndexHashSlots) corrupt(path_, k, "no empty slot");
      const uint32_t frame = base + v;
      if (frame <= maxFrame && frame >= minFrame &&
          shmLoad32(b, walIndexArrayStart(k) + 4 * size_t{v - 1u}) == page) {
        best = std::max(best, frame);
      }
      s = (s + 1) & (kWalIndexHashSlots - 1);
    }
    if (best != 0) return best;
  }
  return 0;
}

void WalIndexFile::insert(uint32_t frame, uint32_t page, uint32_t mxFrame) {
  if (frame <= mxFrame || page == 0) {
    throw Error("invalid wal-index insert into " + path_ + ": frame " + std::to_string(frame) +
                " page " + std::to_string(page) + " after mxFrame " + std::to_string(mxFrame));
  }
  const uint32_t k = walIndexBlockOf(frame);
  uint8_t* b = extendToBlock(k);
  const uint32_t idx = frame - walIndexBlockBase(k);
  const size_t arrayStart = walIndexArrayStart(k);
  if (idx == 1) {
    // A new block: nobody reads it yet (every published mxFrame lies in an earlier block).
    for (size_t off = arrayStart; off < kShmBlockSize; off += 4) shmStore32(b, off, 0);
  }
  const size_t entry = arrayStart + 4 * size_t{idx - 1};
  if (shmLoad32(b, entry) != 0) removeFramesAfter(mxFrame);
  uint32_t s = walIndexHashKey(page);
  for (uint32_t probes = 0; shmLoad16(b, slotOffset(s)) != 0; ++probes) {
    // At most idx - 1 slots are taken by this block's earlier frames.
    if (probes >= idx) corrupt(path_, k, "more collisions than entries");
    s = (s + 1) & (kWalIndexHashSlots - 1);
  }
  shmStore32(b, entry, page);
  shmStore16(b, slotOffset(s), static_cast<uint16_t>(idx));
}

void WalIndexFile::removeFramesAfter(uint32_t mxFrame) {
  if (mxFrame == 0) return;  // block 0 is zeroed when frame 1 is inserted
  const uint32_t k = walIndexBlockOf(mxFrame);
  uint8_t* b = block(k);
  if (!b) {
    throw Error("wal-index " + path_ + " has no block " + std::to_string(k) + " for mxFrame " +
                std::to_string(mxFrame));
  }
  if (!writable_) throw Error("cannot clean the wal-index " + path_ + ": mapped read-only");
  const uint32_t limit = mxFrame - walIndexBlockBase(k);
  for (uint32_t s = 0; s < kWalIndexHashSlots; ++s) {
    if (shmLoad16(b, slotOffset(s)) > limit) shmStore16(b, slotOffset(s), 0);
  }
  for (size_t off = walIndexArrayStart(k) + 4 * size_t{limit}; off < kWalIndexHashTableOffset;
       off += 4) {
    shmStore32(b, off, 0);
  }
}

}  // namespace walstream
