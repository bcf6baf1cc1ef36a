// The page map's copy on write: a view shared before a change keeps what it saw.
#include <doctest/doctest.h>

#include <memory>

#include "vfs/page_map.h"

using namespace walstream::vfs;

namespace {

std::shared_ptr<const WalSegmentRef> segment(const std::string& key) {
  return std::make_shared<const WalSegmentRef>(WalSegmentRef{key, 0, 0, 0, 0});
}

}  // namespace

TEST_CASE("a shared page map keeps its pages while the original changes") {
  PageMap map;
  const auto a = segment("a");
  const auto b = segment("b");
  map.put(1, {a, 100});
  map.put(5000, {a, 200});
  const PageMap before = map.share();
  map.put(1, {b, 300});
  map.put(2, {b, 400});

  REQUIRE(before.find(1) != nullptr);
  CHECK(before.find(1)->segment == a);
  CHECK(before.find(1)->pageOffset == 100);
  CHECK(before.find(2) == nullptr);
  CHECK(before.pages() == 2);
  CHECK(map.find(1)->segment == b);
  CHECK(map.find(2)->pageOffset == 400);
  CHECK(map.find(5000)->pageOffset == 200);
  CHECK(map.pages() == 3);
  CHECK(map.find(0) == nullptr);
  CHECK(map.find(4999) == nullptr);
  CHECK(map.find(1u << 30) == nullptr);
}

TEST_CASE("truncating a page map forgets the pages past the new size only") {
  PageMap map;
  const auto a = segment("a");
  for (uint32_t p : {1u, 1024u, 1025u, 1030u, 3000u}) map.put(p, {a, p});
  const PageMap before = map.share();
  map.truncate(1025);
  CHECK(map.find(1) != nullptr);
  CHECK(map.find(1024) != nullptr);
  CHECK(map.find(1025) != nullptr);
  CHECK(map.find(1030) == nullptr);
  CHECK(map.find(3000) == nullptr);
  CHECK(map.pages() == 3);
  CHECK(before.find(1030) != nullptr);  // shared before: unchanged
  CHECK(before.find(3000) != nullptr);
  CHECK(before.pages() == 5);
  map.put(3000, {a, 7});
  CHECK(map.find(3000)->pageOffset == 7);
  CHECK(map.pages() == 4);
}
