// Fetches one page of a view: from the page cache, or with one ranged read of the snapshot
// block or the WAL segment that holds its newest version, decoded, and every page of it cached
// (the one asked for as the most recently used, page_cache.h). docs/vfs.md §4.
//
// A transient storage failure (StorageError kTransient: a timeout, a refused connection, a 5xx)
// is retried with capped exponential backoff, at most FetchPolicy::maxAttempts tries in all;
// then, or at once for any other failure, the error reaches the caller. Nothing is cached from
// a failed fetch, so the same read succeeds once storage is back.
//
// Thread-safe: the files of one backup fetch on their SQLite callers' threads at once; only the
// cache and a request counter are shared.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "storage/object_store.h"
#include "vfs/page_cache.h"
#include "vfs/view.h"

namespace walstream::vfs {

struct FetchPolicy {
  int maxAttempts = 4;  // tries of one ranged read, the first included
  std::chrono::milliseconds baseDelay{50};
  std::chrono::milliseconds maxDelay{1000};
};

class PageSource {
 public:
  PageSource(storage::ObjectStore& store, PageCache& cache, FetchPolicy policy = {})
      : store_(store), cache_(cache), policy_(policy) {}

  // Copies page `page` (1 .. view.pageCount) of `view` into `out`, which holds view.pageSize
  // bytes. Throws StorageError, or Error naming the object when its bytes are not what the view
  // says.
  void readPage(const View& view, uint32_t page, std::span<uint8_t> out);

  uint64_t reads() const { return reads_.load(); }  // ranged reads issued, retries included

 private:
  std::shared_ptr<const std::string> snapshotPage(const View& view, uint32_t page);
  std::shared_ptr<const std::string> walPage(const WalPage& at, uint32_t pageSize);
  // Caches each `pageSize` bytes of `bytes` from `first` on under key(i) for the i-th; returns
  // the one at `wanted`.
  std::shared_ptr<const std::string> cachePages(
      const uint8_t* bytes, uint64_t size, uint64_t first, uint64_t stride, uint32_t pageSize,
      uint64_t wanted, const std::function<CacheKey(uint64_t offset)>& keyAt);
  // `bytes` bytes of the object from `offset`, retried as the policy says.
  std::string readRange(const std::string& key, uint64_t offset, uint64_t bytes);

  storage::ObjectStore& store_;
  PageCache& cache_;
  const FetchPolicy policy_;
  std::atomic<uint64_t> reads_{0};
};

}  // namespace walstream::vfs
