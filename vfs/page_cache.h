// A bounded LRU of decoded pages, shared by the files of one backup source: pages of snapshot
// blocks and of WAL segments, one entry each. docs/vfs.md §4.
//
// A fetch decodes a whole block or segment for the one page a reader wants: that page goes in
// as the most recently used, its neighbours as the least recently used, so that they are kept
// while there is room and evicted first. Were they hot too, a working set of pages scattered one
// per block would need a cache pagesPerBlock times its size, and cycling through one slightly
// larger than the cache would miss every time.
//
// The bound counts the content's bytes and a fixed overhead per entry; an entry larger than the
// whole bound is not kept. Values are immutable and shared: a reader copies its page out of a
// value that eviction cannot free under it. Thread-safe (one mutex; held for map operations
// only, never while fetching).
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace walstream::vfs {

struct CacheKey {
  std::string object;  // the object's key in the store
  uint64_t a = 0;      // a snapshot page's number; a WAL segment's frame offset in its object
  uint64_t b = 0;      // 0 for a snapshot page; a WAL page's offset in its decompressed segment
  bool operator==(const CacheKey&) const = default;
};

struct CacheKeyHash {
  size_t operator()(const CacheKey& k) const;
};

class PageCache {
 public:
  // What an entry costs besides its content (list and map nodes, the key).
  static constexpr uint64_t kEntryOverhead = 128;

  explicit PageCache(uint64_t capacityBytes) : capacity_(capacityBytes) {}

  // The value, now the most recently used; null when absent.
  std::shared_ptr<const std::string> get(const CacheKey& key);
  enum class Recency { kMostRecent, kLeastRecent };
  // Inserts or replaces, as the most or the least recently used entry, then evicts the least
  // recently used entries until within the bound. A key already present stays where it is when
  // put as the least recently used.
  void put(const CacheKey& key, std::shared_ptr<const std::string> value,
           Recency recency = Recency::kMostRecent);

  uint64_t capacity() const { return capacity_; }
  uint64_t bytes() const;
  size_t entries() const;

 private:
  struct Entry {
    CacheKey key;
    std::shared_ptr<const std::string> value;
  };
  static uint64_t costOf(const Entry& e) {
    return e.value->size() + e.key.object.size() + kEntryOverhead;
  }

  const uint64_t capacity_;
  mutable std::mutex mu_;
  std::list<Entry> lru_;  // most recently used first; guarded by mu_
  std::unordered_map<CacheKey, std::list<Entry>::iterator, CacheKeyHash> index_;  // guarded by mu_
  uint64_t bytes_ = 0;                                                            // guarded by mu_
};

}  // namespace walstream::vfs
