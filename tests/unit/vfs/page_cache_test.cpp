// The page cache's bound and its least-recently-used order.
#include <doctest/doctest.h>

#include <memory>
#include <string>

#include "vfs/page_cache.h"

using namespace walstream::vfs;

namespace {

std::shared_ptr<const std::string> bytes(size_t n) {
  return std::make_shared<const std::string>(n, 'x');
}

uint64_t costOf(const CacheKey& key, size_t n) {
  return n + key.object.size() + PageCache::kEntryOverhead;
}

}  // namespace

TEST_CASE("the page cache stays within its bound and evicts the least recently used first") {
  const CacheKey k1{"o", 1, 0}, k2{"o", 2, 0}, k3{"o", 3, 0}, k4{"o", 4, 0};
  PageCache cache(3 * costOf(k1, 4096));
  cache.put(k1, bytes(4096));
  cache.put(k2, bytes(4096));
  cache.put(k3, bytes(4096));
  CHECK(cache.entries() == 3);
  CHECK(cache.get(k1) != nullptr);  // now the most recent: k2 goes next
  cache.put(k4, bytes(4096));
  CHECK(cache.bytes() <= cache.capacity());
  CHECK(cache.entries() == 3);
  CHECK(cache.get(k2) == nullptr);
  CHECK(cache.get(k1) != nullptr);
  CHECK(cache.get(k3) != nullptr);
  CHECK(cache.get(k4) != nullptr);

  for (uint64_t i = 10; i < 1000; ++i) cache.put({"o", i, 0}, bytes(4096));
  CHECK(cache.bytes() <= cache.capacity());
  CHECK(cache.entries() == 3);
}

TEST_CASE("an entry larger than the whole cache is not kept, and a value outlives its eviction") {
  PageCache cache(10000);
  cache.put({"big", 0, 0}, bytes(20000));
  CHECK(cache.entries() == 0);
  cache.put({"a", 0, 0}, bytes(5000));
  const std::shared_ptr<const std::string> held = cache.get({"a", 0, 0});
  cache.put({"b", 0, 0}, bytes(5000));  // evicts "a"
  CHECK(cache.get({"a", 0, 0}) == nullptr);
  CHECK(held->size() == 5000);

  PageCache none(0);
  none.put({"a", 0, 0}, bytes(1));
  CHECK(none.entries() == 0);
}

TEST_CASE("replacing an entry counts its bytes once") {
  PageCache cache(1 << 20);
  cache.put({"a", 0, 0}, bytes(1000));
  cache.put({"a", 0, 0}, bytes(2000));
  CHECK(cache.entries() == 1);
  CHECK(cache.bytes() == costOf({"a", 0, 0}, 2000));
}

TEST_CASE("an entry put as the least recently used is the first to go") {
  const CacheKey hot{"o", 1, 0}, cold{"o", 2, 0}, next{"o", 3, 0};
  PageCache cache(2 * costOf(hot, 100));
  cache.put(hot, bytes(100));
  cache.put(cold, bytes(100), PageCache::Recency::kLeastRecent);
  cache.put(next, bytes(100));
  CHECK(cache.get(cold) == nullptr);
  CHECK(cache.get(hot) != nullptr);
  CHECK(cache.get(next) != nullptr);
}

TEST_CASE("a page put again as a neighbour keeps its place") {
  const CacheKey used{"o", 1, 0}, other{"o", 2, 0}, next{"o", 3, 0};
  PageCache cache(2 * costOf(used, 100));
  cache.put(other, bytes(100));
  cache.put(used, bytes(100));                                    // the most recent
  cache.put(used, bytes(100), PageCache::Recency::kLeastRecent);  // its block decoded again
  cache.put(next, bytes(100));                                    // evicts the least recent
  CHECK(cache.get(other) == nullptr);
  CHECK(cache.get(used) != nullptr);
}
