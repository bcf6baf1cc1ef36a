#include "vfs/page_source.h"

#include <algorithm>
#include <thread>
#include <vector>

#include "core/backoff.h"
#include "core/error.h"
#include "core/lz4_codec.h"
#include "core/wal_format.h"

namespace walstream::vfs {

void PageSource::readPage(const View& view, uint32_t page, std::span<uint8_t> out) {
  const size_t pageSize = view.pageSize;
  if (const WalPage* w = view.walPages.find(page)) {
    const std::shared_ptr<const std::string> bytes = walPage(*w, view.pageSize);
    std::copy_n(bytes->data(), pageSize, reinterpret_cast<char*>(out.data()));
    return;
  }
  if (page > view.snapshotPages) {
    std::fill_n(out.data(), pageSize, uint8_t{0});  // past a shrink that the WAL did not refill
    return;
  }
  const backup::SnapshotIndex& index = view.snapshot->index();
  const uint64_t block = index.blockOf(page);
  const std::shared_ptr<const std::string> pages = snapshotBlock(view, block);
  const uint64_t at = (page - 1 - block * index.pagesPerBlock) * pageSize;
  if (at + pageSize > pages->size()) {
    throw Error(store_.url() + "/" + view.snapshot->key() + ": block " + std::to_string(block) +
                " does not hold page " + std::to_string(page));
  }
  std::copy_n(pages->data() + at, pageSize, reinterpret_cast<char*>(out.data()));
}

std::shared_ptr<const std::string> PageSource::snapshotBlock(const View& view, uint64_t block) {
  const CacheKey key{view.snapshot->key(), block, 0};
  if (auto cached = cache_.get(key)) return cached;
  const backup::SnapshotBlock& where = view.snapshot->index().blocks.at(block);
  const std::string compressed = readRange(key.object, where.offset, where.size);
  std::shared_ptr<const std::string> pages;
  try {
    pages =
        std::make_shared<const std::string>(view.snapshot->decodeBlock(block, asBytes(compressed)));
  } catch (const Error& e) {
    throw Error(store_.url() + "/" + key.object + ": block " + std::to_string(block) + ": " +
                e.what());
  }
  cache_.put(key, pages);
  return pages;
}

std::shared_ptr<const std::string> PageSource::walPage(const WalPage& at, uint32_t pageSize) {
  const WalSegmentRef& segment = *at.segment;
  if (auto cached = cache_.get({segment.objectKey, segment.frameOffset, at.pageOffset})) {
    return cached;
  }
  const std::string where = store_.url() + "/" + segment.objectKey + ": segment at WAL offset " +
                            std::to_string(segment.walOffset);
  const std::string frame = readRange(segment.objectKey, segment.frameOffset, segment.frameBytes);
  std::vector<uint8_t> bytes(segment.walBytes);
  try {
    Lz4Decompressor decompressor;  // checks the content checksum: the chain was checked once
    if (decompressor.decompress(asBytes(frame), bytes) != segment.walBytes) {
      throw Error("decompresses to fewer bytes than its header says");
    }
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  // Every page of the segment goes into the cache: a scan reads its neighbours next.
  std::shared_ptr<const std::string> wanted;
  const uint64_t frameSize = kWalFrameHeaderSize + uint64_t{pageSize};
  for (uint64_t pos = segment.walOffset == 0 ? kWalHeaderSize : 0; pos + frameSize <= bytes.size();
       pos += frameSize) {
    const uint64_t pageAt = pos + kWalFrameHeaderSize;
    auto page = std::make_shared<const std::string>(
        reinterpret_cast<const char*>(bytes.data() + pageAt), pageSize);
    if (pageAt == at.pageOffset) wanted = page;
    cache_.put({segment.objectKey, segment.frameOffset, pageAt}, std::move(page));
  }
  if (!wanted) throw Error(where + ": no page at offset " + std::to_string(at.pageOffset));
  return wanted;
}

std::string PageSource::readRange(const std::string& key, uint64_t offset, uint64_t bytes) {
  Backoff backoff(policy_.baseDelay, policy_.maxDelay);
  for (int attempt = 1;; ++attempt) {
    try {
      ++reads_;
      std::string got = store_.read(key, offset, bytes);
      if (got.size() != bytes) {
        throw Error(store_.url() + "/" + key + ": ends before byte " +
                    std::to_string(offset + bytes) + " (a backup object changed or was cut)");
      }
      return got;
    } catch (const storage::StorageError& e) {
      if (e.kind() != storage::StorageError::Kind::kTransient || attempt >= policy_.maxAttempts) {
        if (attempt == 1) throw;
        throw storage::StorageError(e.kind(), std::string(e.what()) + " (gave up after " +
                                                  std::to_string(attempt) + " tries)");
      }
    }
    std::this_thread::sleep_for(backoff.next());
  }
}

}  // namespace walstream::vfs
