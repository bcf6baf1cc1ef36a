// A snapshot object: the image of the primary's database at a position, stored so that a
// restore reads it at disk speed and a reader can fetch a single page without decompressing the
// rest (docs/backup.md §3).
//
//   block 0 .. block B-1    one LZ4 frame each (lz4_codec.h: content size and checksum), holding
//                           pagesPerBlock pages (the last block may hold fewer)
//   index                   an LZ4 skippable frame: what the snapshot is and where each block is
//   footer                  an LZ4 skippable frame of 8 bytes: the offset of the index frame
//
// So `lz4 -dc OBJECT > app.db` yields the database image (the lz4 tool skips skippable frames),
// and a reader finds any page with two small ranged reads (footer, index) and one per block.
// Integers in the index and footer are big-endian; the index ends with an FNV-1a 64 of its
// bytes, so a damaged index is refused rather than misread.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "core/lz4_codec.h"
#include "core/pos.h"
#include "core/wal_segment.h"
#include "storage/object_store.h"

namespace walstream::backup {

struct SnapshotBlock {
  uint64_t offset = 0;  // of its LZ4 frame, in the object
  uint64_t size = 0;    // compressed bytes
};

struct SnapshotIndex {
  Pos position;            // the stream of WAL objects continues at this position
  uint32_t pageSize = 0;   // a valid SQLite page size
  uint64_t pageCount = 0;  // pages of the image; the database file is pageCount * pageSize bytes
  uint32_t pagesPerBlock = 0;
  // The WAL's checksum chain at `position`; nullopt at offset 0, where the first WAL object of
  // the index begins with the WAL header that seeds it.
  std::optional<WalChainState> chain;
  int64_t capturedAtMs = 0;  // the primary's clock (Unix ms) when the image was taken
  std::vector<SnapshotBlock> blocks;

  uint64_t blockOf(uint64_t pageNumber) const { return (pageNumber - 1) / pagesPerBlock; }
  // The pages of block b: pagesPerBlock, fewer in the last block.
  uint64_t pagesInBlock(uint64_t b) const;
};

// The most a block holds, decompressed (pagesPerBlock * pageSize): what a reader holds in memory
// at once, so an index asking for more is refused.
inline constexpr uint64_t kMaxSnapshotBlockBytes = uint64_t{64} << 20;

// The encoded index frame and footer frame, and their decoders. Decoders throw Error naming
// what is wrong (bad magic, a size that does not add up, blocks that overlap or do not cover
// pageCount pages, a checksum mismatch); they are fed untrusted bytes (tests/fuzz).
std::string encodeSnapshotIndex(const SnapshotIndex& index);
SnapshotIndex decodeSnapshotIndex(std::span<const uint8_t> frame);
inline constexpr size_t kSnapshotFooterSize = 16;
std::string encodeSnapshotFooter(uint64_t indexOffset);
uint64_t decodeSnapshotFooter(std::span<const uint8_t> footer);

// The default block: 64 KiB of pages (16 pages of 4 KiB), a page fetch's cost, and small
// enough an index (16 bytes per block: 256 KiB for a 1 GiB database).
uint32_t defaultPagesPerBlock(uint32_t pageSize);

// Writes a snapshot object through `out`, pages in order. Memory: one block. Throws Error for
// arguments no index could hold (page size, block size, a chain at offset 0 or none past it)
// and for bytes that are not whole pages; `out`'s own errors pass through. After any error the
// object is incomplete: abandon `out`.
class SnapshotObjectWriter {
 public:
  SnapshotObjectWriter(storage::ObjectWriter& out, const Pos& position, uint32_t pageSize,
                       std::optional<WalChainState> chain, int64_t capturedAtMs,
                       uint32_t pagesPerBlock = 0 /* 0: defaultPagesPerBlock */);
  // Whole pages, any number of them.
  void addPages(std::span<const char> pages);
  // Writes the last block, the index and the footer. Does not commit `out`.
  void finish();

  const SnapshotIndex& index() const { return index_; }  // complete once finish() returned

 private:
  void flushBlock();
  void writeBlock(std::span<const char> pages);

  storage::ObjectWriter& out_;
  SnapshotIndex index_;
  size_t blockBytes_ = 0;  // pagesPerBlock * pageSize
  std::string block_;      // pages not yet compressed, fewer than a block's
  uint64_t written_ = 0;
  bool finished_ = false;
};

// Reads a stored snapshot object: its footer and index (two ranged reads, a third for an index
// over 64 KiB: the index frame's header is checked before the rest is read), then blocks by
// number.
class SnapshotObjectReader {
 public:
  // Throws StorageError when the object cannot be read, Error when it is not a whole, valid
  // snapshot object (naming the key).
  SnapshotObjectReader(storage::ObjectStore& store, std::string key);
  // A reader of an object whose index the caller read before (readSnapshotIndex): no request.
  SnapshotObjectReader(storage::ObjectStore& store, std::string key, SnapshotIndex index)
      : store_(store), key_(std::move(key)), index_(std::move(index)) {}

  const SnapshotIndex& index() const { return index_; }
  const std::string& key() const { return key_; }
  // The pages of block `b`, decompressed and checked (content size = its pages, checksum).
  std::string readBlock(uint64_t b);
  // Decodes block `b` from its compressed bytes, as readBlock does (for readers that fetch
  // blocks themselves, e.g. ahead in parallel).
  std::string decodeBlock(uint64_t b, std::span<const uint8_t> compressed) const;
  // The same into `out`, which must have room for the block's pages (room for
  // kLz4MaxBlockSize more past them saves a copy inside the decompressor; nothing past the
  // pages is written), with the caller's decompression context. Returns the pages' bytes.
  size_t decodeBlockInto(uint64_t b, std::span<const uint8_t> compressed, std::span<uint8_t> out,
                         Lz4Decompressor& decompressor) const;

 private:
  storage::ObjectStore& store_;
  std::string key_;
  SnapshotIndex index_;
};

}  // namespace walstream::backup
