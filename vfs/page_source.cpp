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
  std::shared_ptr<const std::string> bytes;
  if (const WalPage* w = view.walPages.find(page)) {
    bytes = walPage(*w, view.pageSize);
  } else if (page <= view.snapshotPages) {
    bytes = snapshotPage(view, page);
  } else {
    std::fill_n(out.data(), view.pageSize, uint8_t{0});  // past a shrink the WAL did not refill
    return;
  }
  std::copy_n(bytes->data(), view.pageSize, reinterpret_cast<char*>(out.data()));
}

std::shared_ptr<const std::string> PageSource::snapshotPage(const View& view, uint32_t page) {
  const std::string& key = view.snapshot->key();
  if (auto cached = cache_.get({key, page, 0})) return cached;
  const backup::SnapshotIndex& index = view.snapshot->index();
  const uint64_t block = index.blockOf(page);
  const backup::SnapshotBlock& where = index.blocks.at(block);
  const std::string compressed = readRange(key, where.offset, where.size);
  std::string pages;
  try {
    pages = view.snapshot->decodeBlock(block, asBytes(compressed));
  } catch (const Error& e) {
    throw Error(store_.url() + "/" + key + ": block " + std::to_string(block) + ": " + e.what());
  }
  const uint64_t first = block * index.pagesPerBlock + 1;
  const uint64_t pageSize = view.pageSize;
  return cachePages(reinterpret_cast<const uint8_t*>(pages.data()), pages.size(), 0, pageSize,
                    view.pageSize, (page - first) * pageSize, [&](uint64_t offset) {
                      return CacheKey{key, first + offset / pageSize, 0};
                    });
}

std::shared_ptr<const std::string> PageSource::walPage(const WalPage& at, uint32_t pageSize) {
  const WalSegmentRef& segment = *at.segment;
  if (auto cached = cache_.get({segment.objectKey, segment.frameOffset, at.pageOffset})) {
    return cached;
  }
  const std::string frame = readRange(segment.objectKey, segment.frameOffset, segment.frameBytes);
  std::vector<uint8_t> bytes(segment.walBytes);
  try {
    Lz4Decompressor decompressor;  // checks the content checksum: the chain was checked once
    if (decompressor.decompress(asBytes(frame), bytes) != segment.walBytes) {
      throw Error("decompresses to fewer bytes than its header says");
    }
  } catch (const Error& e) {
    throw Error(store_.url() + "/" + segment.objectKey + ": segment at WAL offset " +
                std::to_string(segment.walOffset) + ": " + e.what());
  }
  const uint64_t first = (segment.walOffset == 0 ? kWalHeaderSize : 0) + kWalFrameHeaderSize;
  return cachePages(bytes.data(), bytes.size(), first, kWalFrameHeaderSize + uint64_t{pageSize},
                    pageSize, at.pageOffset, [&](uint64_t offset) {
                      return CacheKey{segment.objectKey, segment.frameOffset, offset};
                    });
}

std::shared_ptr<const std::string> PageSource::cachePages(
    const uint8_t* bytes, uint64_t size, uint64_t first, uint64_t stride, uint32_t pageSize,
    uint64_t wanted, const std::function<CacheKey(uint64_t offset)>& keyAt) {
  std::shared_ptr<const std::string> found;
  for (uint64_t at = first; at + pageSize <= size; at += stride) {
    auto page =
        std::make_shared<const std::string>(reinterpret_cast<const char*>(bytes + at), pageSize);
    const bool isWanted = at == wanted;
    if (isWanted) found = page;
    cache_.put(keyAt(at), std::move(page),
               isWanted ? PageCache::Recency::kMostRecent : PageCache::Recency::kLeastRecent);
  }
  if (!found)
    throw Error("no page at offset " + std::to_string(wanted) + " of a block it was said to be in");
  return found;
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
