#include "vfs/page_cache.h"

#include <functional>

namespace walstream::vfs {

size_t CacheKeyHash::operator()(const CacheKey& k) const {
  size_t h = std::hash<std::string>{}(k.object);
  h ^= std::hash<uint64_t>{}(k.a) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  h ^= std::hash<uint64_t>{}(k.b) + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h;
}

std::shared_ptr<const std::string> PageCache::get(const CacheKey& key) {
  std::lock_guard lock(mu_);
  const auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->value;
}

void PageCache::put(const CacheKey& key, std::shared_ptr<const std::string> value,
                    Recency recency) {
  Entry entry{key, std::move(value)};
  const uint64_t cost = costOf(entry);
  if (cost > capacity_) return;
  std::lock_guard lock(mu_);
  if (const auto it = index_.find(key); it != index_.end()) {
    // Already there: a neighbour decoded again keeps its place (it may be hot: a block fetched
    // for one page evicted earlier must not demote the block's pages that readers use).
    if (recency == Recency::kLeastRecent) return;
    bytes_ -= costOf(*it->second);
    lru_.erase(it->second);
    index_.erase(it);
  }
  const auto at = recency == Recency::kMostRecent ? lru_.begin() : lru_.end();
  index_.emplace(key, lru_.insert(at, std::move(entry)));
  bytes_ += cost;
  while (bytes_ > capacity_) {
    const Entry& last = lru_.back();
    bytes_ -= costOf(last);
    index_.erase(last.key);
    lru_.pop_back();
  }
}

uint64_t PageCache::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

size_t PageCache::entries() const {
  std::lock_guard lock(mu_);
  return lru_.size();
}

}  // namespace walstream::vfs
