// The wal-index hash tables (-shm blocks) that map WAL frames to database pages
// (docs/sqlite-wal.md §3.1, §3.4, §3.5).
//
// The -shm is an array of 32 KiB blocks. Block k holds a u32 page-number array (4096 entries,
// bytes 0..16383) and a u16 hash table (8192 slots, bytes 16384..32767). Block 0's array starts
// after the 136-byte header region, so block 0 indexes 4062 frames and every later block 4096.
//
//   block(F)     = (F + 33) / 4096
//   iZero(k)     = k == 0 ? 0 : 4062 + 4096 * (k - 1)    block k indexes frames iZero(k) + 1 ..
//   idx(F)       = F - iZero(block(F))                   1-based position inside the block
//   pgEntry(F)   = k == 0 ? 136 + 4 * (F - 1) : 32768 * k + 4 * (idx(F) - 1)
//   slot(k, s)   = 32768 * k + 16384 + 2 * s             value idx, 0 = empty
//   h(p)         = (p * 383) & 8191                      linear probing, h, h+1, ... mod 8192
//
// Readers never visit blocks beyond block(mxFrame) of their snapshot and ignore hash values whose
// frame exceeds their mxFrame, so a writer holding WAL_WRITE_LOCK can insert entries for frames
// beyond the published mxFrame while readers run; they become visible only with the header.
// Every access to mapped memory is a relaxed atomic load or store: other processes use it
// concurrently. Publishing (wal_index.h) orders the entries before the header.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/file_system.h"
#include "core/wal_index.h"

namespace walstream {

inline constexpr uint32_t kWalIndexHashPages = 4096;        // HASHTABLE_NPAGE
inline constexpr uint32_t kWalIndexHashSlots = 8192;        // HASHTABLE_NSLOT
inline constexpr uint32_t kWalIndexFirstBlockPages = 4062;  // HASHTABLE_NPAGE_ONE
inline constexpr size_t kWalIndexHeaderRegionSize = 136;    // two headers + WalCkptInfo
inline constexpr size_t kWalIndexHashTableOffset = 4 * kWalIndexHashPages;  // 16384
inline constexpr uint32_t kWalIndexHashMultiplier = 383;

// The block that indexes frame F (F >= 1).
constexpr uint32_t walIndexBlockOf(uint32_t frame) {
  return static_cast<uint32_t>(
      (uint64_t{frame} + kWalIndexHashPages - kWalIndexFirstBlockPages - 1) / kWalIndexHashPages);
}
// The frame before block k's first frame ("iZero").
constexpr uint32_t walIndexBlockBase(uint32_t block) {
  return block == 0 ? 0 : kWalIndexFirstBlockPages + kWalIndexHashPages * (block - 1);
}
// How many frames block k indexes.
constexpr uint32_t walIndexBlockCapacity(uint32_t block) {
  return block == 0 ? kWalIndexFirstBlockPages : kWalIndexHashPages;
}
// Offset, inside block k, of its page-number array.
constexpr size_t walIndexArrayStart(uint32_t block) {
  return block == 0 ? kWalIndexHeaderRegionSize : 0;
}
// Byte offset in the -shm file of the u32 page number of frame F.
constexpr uint64_t walIndexPageEntryOffset(uint32_t frame) {
  const uint32_t k = walIndexBlockOf(frame);
  return uint64_t{kShmBlockSize} * k + walIndexArrayStart(k) +
         4 * uint64_t{frame - walIndexBlockBase(k) - 1};
}
// Byte offset in the -shm file of hash slot s of block k.
constexpr uint64_t walIndexHashSlotOffset(uint32_t block, uint32_t slot) {
  return uint64_t{kShmBlockSize} * block + kWalIndexHashTableOffset + 2 * uint64_t{slot};
}
// The first slot probed for page p.
constexpr uint32_t walIndexHashKey(uint32_t page) {
  return (page * kWalIndexHashMultiplier) & (kWalIndexHashSlots - 1);
}
// The -shm size a WAL of mxFrame frames needs (one block at least).
constexpr uint64_t walIndexFileSizeFor(uint32_t mxFrame) {
  return uint64_t{kShmBlockSize} * (mxFrame == 0 ? 1 : walIndexBlockOf(mxFrame) + 1);
}

// The blocks of one -shm file, mapped MAP_SHARED on demand, with the hash-table operations.
// The descriptor is borrowed: it must stay open (docs/sqlite-wal.md §4.5) and the owner must hold a
// shared DMS lock (byte 128) for as long as this object exists, so that no newcomer truncates
// the file under the mappings. Not thread-safe.
class WalIndexFile {
 public:
  // `writable`: map read-write (needed for insert, removeFramesAfter and extendToBlock). The
  // writes that grow the file go through `fs` (core/file_system.h), which must outlive this.
  WalIndexFile(int fd, std::string path, bool writable, FileSystem& fs = realFileSystem());

  // Block k, or nullptr when the file does not yet reach its end.
  uint8_t* block(uint32_t k);
  // Block k, growing the file first if needed as SQLite does: one zero byte written at the last
  // byte of each new 4 KiB page. Only a writer holding WAL_WRITE_LOCK may grow the file, and it
  // must do so before it publishes an mxFrame that lies in block k.
  uint8_t* extendToBlock(uint32_t k);

  // The latest frame F with minFrame <= F <= maxFrame whose page is `page`, or 0 when the page
  // has no such frame (read it from the database file). Throws Error when a block that the
  // range needs is missing or a hash table is corrupt.
  uint32_t findFrame(uint32_t page, uint32_t maxFrame, uint32_t minFrame);

  // Records that frame `frame` holds page `page` (docs/sqlite-wal.md §3.4 insert). `mxFrame` is the
  // published header's mxFrame (frame > mxFrame): if the entry is already taken, an earlier writer
  // died or rolled back and the block is cleaned down to mxFrame first. Grows the file as needed.
  // Frames must be inserted in increasing order starting at mxFrame + 1.
  void insert(uint32_t frame, uint32_t page, uint32_t mxFrame);

  // Removes every entry for frames after `mxFrame` from block(mxFrame) (walCleanupHash): hash
  // slots whose value lies beyond it and array entries after it. Later blocks are zeroed when
  // their first frame is inserted.
  void removeFramesAfter(uint32_t mxFrame);

  const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
  bool writable_;
  FileSystem& fs_;
  std::vector<ShmMapping> blocks_;
};

}  // namespace walstream
