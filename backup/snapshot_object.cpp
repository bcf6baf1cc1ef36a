#include "backup/snapshot_object.h"

#include <algorithm>
#include <limits>
#include <string_view>

#include "backup/checked_payload.h"
#include "backup/skippable_frame.h"
#include "core/byte_order.h"
#include "core/error.h"
#include "core/lz4_codec.h"
#include "core/wal_format.h"

namespace walstream::backup {

namespace {

constexpr std::string_view kMagic = "WSSNAP01";
constexpr std::string_view kIndexWhat = "snapshot index";
constexpr std::string_view kFooterWhat = "snapshot footer";
constexpr size_t kFooterPayloadSize = 8;
constexpr size_t kBlockFieldBytes = 16;  // offset, compressed size
constexpr uint32_t kDefaultBlockBytes = 64 * 1024;
// The first read of an index: all of it for databases up to about 256 MiB at the default block
// size, and enough to check that the footer points at an index frame before reading more.
constexpr uint64_t kIndexFirstRead = 64 * 1024;

std::string blockName(uint64_t b, const SnapshotBlock& block) {
  return "block " + std::to_string(b) + " (object byte " + std::to_string(block.offset) + ")";
}

// Blocks back to back from object byte 0, each a frame of some bytes.
std::optional<std::string> blocksFlaw(const std::vector<SnapshotBlock>& blocks) {
  uint64_t expected = 0;
  for (size_t b = 0; b < blocks.size(); ++b) {
    const SnapshotBlock& block = blocks[b];
    if (block.offset != expected) {
      return blockName(b, block) + " does not start where the one before ends (" +
             std::to_string(expected) + "): blocks must be contiguous from 0";
    }
    if (block.size == 0) return blockName(b, block) + " has a compressed size of 0";
    if (block.size > std::numeric_limits<uint64_t>::max() - block.offset) {
      return blockName(b, block) + " ends past the largest object size";
    }
    expected = block.offset + block.size;
  }
  return std::nullopt;
}

std::optional<std::string> chainFlaw(const SnapshotIndex& x) {
  if (x.chain.has_value() != (x.position.offset != 0)) {
    return x.chain ? "a WAL checksum chain at offset 0 (where the WAL header starts one)"
                   : "no WAL checksum chain at offset " + std::to_string(x.position.offset);
  }
  if (x.chain && x.chain->pageSize != x.pageSize) {
    return "chain page size " + std::to_string(x.chain->pageSize) + " differs from page size " +
           std::to_string(x.pageSize);
  }
  return std::nullopt;
}

// What makes `x` no index of docs/backup.md §3; the writer, the encoder and the decoder hold
// every index to the same rules.
std::optional<std::string> indexFlaw(const SnapshotIndex& x) {
  if (x.position.generation == 0) return "generation 0";
  if (!isValidPageSize(x.pageSize)) {
    return "page size " + std::to_string(x.pageSize) + " is not a SQLite page size";
  }
  if (x.pageCount > kMaxWalPageNumber) {
    return "page count " + std::to_string(x.pageCount) + " is more than SQLite allows";
  }
  if (x.pagesPerBlock == 0) return "0 pages per block";
  if (uint64_t{x.pagesPerBlock} * x.pageSize > kMaxSnapshotBlockBytes) {
    return "blocks of " + std::to_string(x.pagesPerBlock) + " pages of " +
           std::to_string(x.pageSize) + " bytes, more than " +
           std::to_string(kMaxSnapshotBlockBytes) + " bytes";
  }
  if (std::optional<std::string> flaw = chainFlaw(x)) return flaw;
  const uint64_t blocks =
      x.pageCount / x.pagesPerBlock + (x.pageCount % x.pagesPerBlock != 0 ? 1 : 0);
  if (x.blocks.size() != blocks) {
    return std::to_string(x.blocks.size()) + " blocks for " + std::to_string(x.pageCount) +
           " pages of " + std::to_string(x.pagesPerBlock) + " per block (expected " +
           std::to_string(blocks) + ")";
  }
  return blocksFlaw(x.blocks);
}

// The chain fields: meaningful when the flag is 1, all zero when it is 0 (so that an index has
// one encoding).
std::optional<WalChainState> readChain(PayloadReader& r, uint32_t pageSize) {
  const uint8_t flag = r.u8("chain flag");
  WalChainState chain;
  chain.pageSize = pageSize;
  chain.salt1 = r.u32("salt-1");
  chain.salt2 = r.u32("salt-2");
  chain.checksum.s0 = r.u32("checksum-1");
  chain.checksum.s1 = r.u32("checksum-2");
  const uint8_t byteOrder = r.u8("checksum byte order");
  if (flag > 1) r.fail("chain flag " + std::to_string(flag) + " is neither 0 nor 1");
  if (byteOrder > 1) r.fail("checksum byte order " + std::to_string(byteOrder) + " is not 0 or 1");
  chain.bigEndianChecksum = byteOrder == 1;
  if (flag == 1) return chain;
  if (chain.salt1 != 0 || chain.salt2 != 0 || chain.checksum != Checksum{} || byteOrder != 0) {
    r.fail("chain fields set with the chain flag 0");
  }
  return std::nullopt;
}

// Exactly `n` bytes of the object at `offset`; fewer means the object is not what its size and
// footer said.
std::string readExactly(storage::ObjectStore& store, const std::string& key, uint64_t offset,
                        uint64_t n, std::string_view what) {
  std::string bytes = store.read(key, offset, n);
  if (bytes.size() != n) {
    throw Error("read " + std::to_string(bytes.size()) + " bytes of the " + std::string(what) +
                " at object byte " + std::to_string(offset) + ", expected " + std::to_string(n) +
                " (the object is shorter than its size said)");
  }
  return bytes;
}

SnapshotIndex readIndex(storage::ObjectStore& store, const std::string& key) {
  const uint64_t size = store.stat(key).size;
  if (size < kSnapshotFooterSize) {
    throw Error(std::to_string(size) + " bytes, too short for a footer (16)");
  }
  const uint64_t footerAt = size - kSnapshotFooterSize;
  const uint64_t indexAt = decodeSnapshotFooter(
      asBytes(readExactly(store, key, footerAt, kSnapshotFooterSize, "footer")));
  if (indexAt > footerAt) {
    throw Error("the footer puts the index at object byte " + std::to_string(indexAt) +
                ", past the footer at " + std::to_string(footerAt));
  }
  const uint64_t indexBytes = footerAt - indexAt;
  std::string frame =
      readExactly(store, key, indexAt, std::min(indexBytes, kIndexFirstRead), "index");
  // A footer pointing anywhere but at an index frame ending at the footer is refused before
  // more is read.
  const uint64_t frameBytes =
      kSkippableFrameHeaderSize +
      skippableFramePayloadSize(asBytes(frame), kSnapshotIndexMagic, kIndexWhat);
  if (frameBytes != indexBytes) {
    throw Error("the index frame at object byte " + std::to_string(indexAt) + " has " +
                std::to_string(frameBytes) + " bytes, " + std::to_string(indexBytes) +
                " are there before the footer");
  }
  if (frame.size() < indexBytes) {
    frame += readExactly(store, key, indexAt + frame.size(), indexBytes - frame.size(), "index");
  }
  SnapshotIndex index = decodeSnapshotIndex(asBytes(frame));
  const uint64_t blocksEnd =
      index.blocks.empty() ? 0 : index.blocks.back().offset + index.blocks.back().size;
  if (blocksEnd != indexAt) {
    throw Error("the blocks end at object byte " + std::to_string(blocksEnd) +
                ", the index starts at " + std::to_string(indexAt));
  }
  return index;
}

}  // namespace

uint64_t SnapshotIndex::pagesInBlock(uint64_t b) const {
  const uint64_t first = b * pagesPerBlock;
  return first >= pageCount ? 0 : std::min<uint64_t>(pagesPerBlock, pageCount - first);
}

std::string encodeSnapshotIndex(const SnapshotIndex& index) {
  if (std::optional<std::string> flaw = indexFlaw(index)) {
    throw Error("cannot encode a snapshot index: " + *flaw);
  }
  PayloadWriter w(kMagic);
  w.u64(index.position.generation);
  w.u64(index.position.index);
  w.u64(index.position.offset);
  w.u32(index.pageSize);
  w.u64(index.pageCount);
  w.u32(index.pagesPerBlock);
  const WalChainState chain = index.chain.value_or(WalChainState{});
  w.u8(index.chain ? 1 : 0);
  w.u32(chain.salt1);
  w.u32(chain.salt2);
  w.u32(chain.checksum.s0);
  w.u32(chain.checksum.s1);
  w.u8(chain.bigEndianChecksum ? 1 : 0);
  w.u64(static_cast<uint64_t>(index.capturedAtMs));
  w.u64(index.blocks.size());
  for (const SnapshotBlock& block : index.blocks) {
    w.u64(block.offset);
    w.u64(block.size);
  }
  const std::string payload = std::move(w).finish();
  return encodeSkippableFrame(kSnapshotIndexMagic, asBytes(payload), kIndexWhat);
}

SnapshotIndex decodeSnapshotIndex(std::span<const uint8_t> frame) {
  const std::span<const uint8_t> payload =
      skippableFramePayload(frame, kSnapshotIndexMagic, kIndexWhat);
  PayloadReader r(payload, std::string(kIndexWhat), kMagic);
  if (kSkippableFrameHeaderSize + payload.size() != frame.size()) {
    r.fail(std::to_string(frame.size() - kSkippableFrameHeaderSize - payload.size()) +
           " bytes after the frame");
  }
  SnapshotIndex x;
  x.position.generation = r.u64("generation");
  x.position.index = r.u64("index");
  x.position.offset = r.u64("offset");
  x.pageSize = r.u32("page size");
  x.pageCount = r.u64("page count");
  x.pagesPerBlock = r.u32("pages per block");
  x.chain = readChain(r, x.pageSize);
  x.capturedAtMs = r.i64("captured at");
  const uint64_t count = r.u64("block count");
  // The count is believed only once the bytes for that many blocks are there.
  if (r.remaining() % kBlockFieldBytes != 0 || r.remaining() / kBlockFieldBytes != count) {
    r.fail("block count " + std::to_string(count) + " does not match the " +
           std::to_string(r.remaining()) + " bytes of block fields (16 each)");
  }
  x.blocks.reserve(count);
  for (uint64_t b = 0; b < count; ++b) {
    SnapshotBlock block;
    block.offset = r.u64("block offset");
    block.size = r.u64("block size");
    x.blocks.push_back(block);
  }
  if (std::optional<std::string> flaw = indexFlaw(x)) r.fail(*flaw);
  return x;
}

std::string encodeSnapshotFooter(uint64_t indexOffset) {
  uint8_t payload[kFooterPayloadSize];
  storeBE64(payload, indexOffset);
  return encodeSkippableFrame(kSnapshotFooterMagic, payload, kFooterWhat);
}

uint64_t decodeSnapshotFooter(std::span<const uint8_t> footer) {
  const std::string what(kFooterWhat);
  if (footer.size() != kSnapshotFooterSize) {
    throw Error(what + ": " + std::to_string(footer.size()) + " bytes, expected " +
                std::to_string(kSnapshotFooterSize));
  }
  const std::span<const uint8_t> payload =
      skippableFramePayload(footer, kSnapshotFooterMagic, kFooterWhat);
  if (payload.size() != kFooterPayloadSize) {
    throw Error(what + ": payload of " + std::to_string(payload.size()) + " bytes, expected " +
                std::to_string(kFooterPayloadSize));
  }
  return loadBE64(payload.data());
}

uint32_t defaultPagesPerBlock(uint32_t pageSize) {
  return std::max<uint32_t>(1, kDefaultBlockBytes / std::max<uint32_t>(pageSize, 1));
}

SnapshotObjectWriter::SnapshotObjectWriter(storage::ObjectWriter& out, const Pos& position,
                                           uint32_t pageSize, std::optional<WalChainState> chain,
                                           int64_t capturedAtMs, uint32_t pagesPerBlock)
    : out_(out) {
  index_.position = position;
  index_.pageSize = pageSize;
  index_.pagesPerBlock = pagesPerBlock != 0 ? pagesPerBlock : defaultPagesPerBlock(pageSize);
  index_.chain = chain;
  index_.capturedAtMs = capturedAtMs;
  // No pages yet: an index of no blocks, valid unless the arguments are not.
  if (std::optional<std::string> flaw = indexFlaw(index_)) {
    throw Error("cannot write a snapshot object: " + *flaw);
  }
  blockBytes_ = size_t{index_.pagesPerBlock} * pageSize;
  block_.reserve(blockBytes_);
}

void SnapshotObjectWriter::addPages(std::span<const char> pages) {
  if (finished_) throw Error("snapshot object writer: pages added after finish()");
  const uint64_t pageSize = index_.pageSize;
  if (pages.size() % pageSize != 0) {
    throw Error("snapshot object writer: " + std::to_string(pages.size()) +
                " bytes are not whole pages of " + std::to_string(pageSize));
  }
  const uint64_t total = index_.pageCount + (block_.size() + pages.size()) / pageSize;
  if (total > kMaxWalPageNumber) {
    throw Error("snapshot object writer: " + std::to_string(total) +
                " pages, more than SQLite allows");
  }
  while (!pages.empty()) {
    if (block_.empty() && pages.size() >= blockBytes_) {  // a whole block: no copy
      writeBlock(pages.first(blockBytes_));
      pages = pages.subspan(blockBytes_);
      continue;
    }
    const size_t n = std::min(blockBytes_ - block_.size(), pages.size());
    block_.append(pages.data(), n);
    pages = pages.subspan(n);
    if (block_.size() == blockBytes_) flushBlock();
  }
}

void SnapshotObjectWriter::finish() {
  if (finished_) throw Error("snapshot object writer: finish() called twice");
  flushBlock();
  const std::string index = encodeSnapshotIndex(index_);
  out_.write(index);
  out_.write(encodeSnapshotFooter(written_));
  written_ += index.size() + kSnapshotFooterSize;
  finished_ = true;
}

void SnapshotObjectWriter::flushBlock() {
  if (block_.empty()) return;
  writeBlock(block_);
  block_.clear();
}

void SnapshotObjectWriter::writeBlock(std::span<const char> pages) {
  const std::string frame =
      lz4Compress({reinterpret_cast<const uint8_t*>(pages.data()), pages.size()});
  out_.write(frame);
  index_.blocks.push_back({written_, frame.size()});
  index_.pageCount += pages.size() / index_.pageSize;
  written_ += frame.size();
}

SnapshotObjectReader::SnapshotObjectReader(storage::ObjectStore& store, std::string key)
    : store_(store), key_(std::move(key)) {
  try {
    index_ = readIndex(store_, key_);
  } catch (const storage::StorageError&) {
    throw;  // names the store and the key already
  } catch (const Error& e) {
    throw Error("snapshot object " + key_ + ": " + e.what());
  }
}

std::string SnapshotObjectReader::readBlock(uint64_t b) {
  if (b >= index_.blocks.size()) {
    throw Error("snapshot object " + key_ + ": no block " + std::to_string(b) + " (it has " +
                std::to_string(index_.blocks.size()) + ")");
  }
  const SnapshotBlock& block = index_.blocks[b];
  const std::string compressed = store_.read(key_, block.offset, block.size);
  return decodeBlock(b, asBytes(compressed));
}

std::string SnapshotObjectReader::decodeBlock(uint64_t b,
                                              std::span<const uint8_t> compressed) const {
  std::string out(b < index_.blocks.size() ? index_.pagesInBlock(b) * index_.pageSize : 0, '\0');
  Lz4Decompressor decompressor;
  decodeBlockInto(b, compressed, {reinterpret_cast<uint8_t*>(out.data()), out.size()},
                  decompressor);
  return out;
}

size_t SnapshotObjectReader::decodeBlockInto(uint64_t b, std::span<const uint8_t> compressed,
                                             std::span<uint8_t> out,
                                             Lz4Decompressor& decompressor) const {
  if (b >= index_.blocks.size()) {
    throw Error("snapshot object " + key_ + ": no block " + std::to_string(b) + " (it has " +
                std::to_string(index_.blocks.size()) + ")");
  }
  const SnapshotBlock& block = index_.blocks[b];
  const uint64_t firstPage = b * index_.pagesPerBlock + 1;
  const uint64_t pages = index_.pagesInBlock(b);
  const uint64_t expected = pages * index_.pageSize;
  const auto fail = [&](const std::string& why) {
    throw Error("snapshot object " + key_ + ": " + blockName(b, block) + ", pages " +
                std::to_string(firstPage) + "-" + std::to_string(firstPage + pages - 1) + ": " +
                why);
  };
  if (compressed.size() != block.size) {
    fail(std::to_string(compressed.size()) + " compressed bytes, the index says " +
         std::to_string(block.size));
  }
  const std::optional<Lz4FrameExtent> extent = lz4FrameExtent(compressed);
  if (!extent || extent->bytes != compressed.size()) fail("not one whole LZ4 frame");
  if (!extent->contentChecksum) fail("its LZ4 frame has no content checksum");
  if (extent->contentSize != expected) {
    fail("its LZ4 frame declares " +
         (extent->contentSize ? std::to_string(*extent->contentSize) + " bytes" : "no size") +
         " of content, its pages are " + std::to_string(expected));
  }
  if (out.size() < expected) {
    throw Error("snapshot object " + key_ + ": " + blockName(b, block) + " needs " +
                std::to_string(expected) + " bytes of room, the caller gave " +
                std::to_string(out.size()));
  }
  size_t n = 0;
  try {
    // At most `expected` bytes are written: the declared size was checked above, and
    // decompression checks the content against it.
    n = decompressor.decompress(compressed, out);
  } catch (const Error& e) {
    fail(e.what());
  }
  if (n != expected) {
    fail("decompresses to " + std::to_string(n) + " bytes, its pages are " +
         std::to_string(expected));
  }
  return n;
}

}  // namespace walstream::backup
