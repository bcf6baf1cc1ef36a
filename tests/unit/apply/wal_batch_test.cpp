#include "client/apply/wal_batch.h"

#include <doctest/doctest.h>

#include <vector>

#include "core/error.h"

using namespace walstream;

namespace {

// Synthetic frames: page images of one byte each (the merger never looks at their content).
struct Frames {
  std::vector<uint8_t> bytes = std::vector<uint8_t>(64);
  std::vector<WalTransaction> txns;

  // Adds a transaction writing `pages` in order; the last frame commits with `dbSize`.
  void add(std::vector<uint32_t> pages, uint32_t dbSize) {
    WalTransaction t;
    for (size_t i = 0; i < pages.size(); ++i) {
      WalFrameView f;
      f.header.pageNumber = pages[i];
      f.header.commitSize = i + 1 == pages.size() ? dbSize : 0;
      const size_t at = txns.size() * 8 + i;
      bytes.at(at) = static_cast<uint8_t>(at);
      f.page = std::span(bytes).subspan(at, 1);
      t.frames.push_back(f);
    }
    txns.push_back(std::move(t));
  }
};

}  // namespace

TEST_CASE("a merged batch keeps each page's last version, in order, committing the last size") {
  Frames in;
  in.add({2, 5, 1}, 5);  // pages 2 and 1 are rewritten later; page 5 is beyond the final size
  in.add({2, 3}, 6);
  in.add({1, 2}, 3);  // shrinks: commit frame (page 2) ends the batch with size 3
  WalBatchMerger merger;
  const WalTransaction m = merger.merge(in.txns);
  REQUIRE(m.frames.size() == 4);
  const uint32_t pages[] = {5, 3, 1, 2};
  const uint8_t* const sources[] = {
      in.txns[0].frames[1].page.data(), in.txns[1].frames[1].page.data(),
      in.txns[2].frames[0].page.data(), in.txns[2].frames[1].page.data()};
  for (size_t i = 0; i < 4; ++i) {
    CAPTURE(i);
    CHECK(m.frames[i].header.pageNumber == pages[i]);
    CHECK(m.frames[i].page.data() == sources[i]);                // a view of the input, not a copy
    CHECK(m.frames[i].header.commitSize == (i == 3 ? 3u : 0u));  // earlier commits are cleared
  }
  CHECK(m.commitSize() == 3);

  // The merger is reused: nothing of the previous batch is left in it.
  Frames one;
  one.add({7}, 9);
  const WalTransaction single = merger.merge(one.txns);
  REQUIRE(single.frames.size() == 1);
  CHECK(single.frames[0].header.pageNumber == 7);
  CHECK(single.commitSize() == 9);
}

TEST_CASE("merging refuses an empty batch and a transaction without its commit frame") {
  WalBatchMerger merger;
  CHECK_THROWS_AS(merger.merge({}), Error);
  Frames in;
  in.add({1, 2}, 2);
  in.txns[0].frames.back().header.commitSize = 0;
  CHECK_THROWS_AS(merger.merge(in.txns), Error);
  in.txns[0].frames.clear();
  CHECK_THROWS_AS(merger.merge(in.txns), Error);
}
