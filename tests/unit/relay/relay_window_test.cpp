// The relay's window (relay/relay_source.h): contiguous segments at the upstream's positions,
// restarted by anything that breaks the sequence, ended on a new generation, trimmed to its
// bound; and the cycle refusal.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/lz4_codec.h"
#include "relay/relay_source.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::relay;

namespace {

constexpr uint64_t kGen = 0x0123456789abcdefULL;
constexpr uint64_t kSegmentBytes = 4152;  // the length of one frame's worth of WAL, any will do

// A segment's compressed bytes (the relay checks no WAL content, only its LZ4 frame's size).
const std::string& segmentBytes() {
  static const std::string bytes = lz4Compress(asBytes(std::string(kSegmentBytes, 'w')));
  return bytes;
}

RelaySegment segment(uint64_t index, uint64_t offset, uint64_t gen = kGen) {
  return {Pos{gen, index, offset}, asBytes(segmentBytes()), kSegmentBytes};
}

ImageState stateAt(const Pos& pos) {
  return ImageState{pos, 4096, std::nullopt, 0, {}};
}

struct Relay {
  explicit Relay(uint32_t windowIndexes = 32)
      : source(RelayOptions{dir.file("local.db"), "00000000000000aa", windowIndexes, 10000}) {}
  void publish(const Pos& at, std::vector<RelaySegment> segments = {}) {
    auto lock = source.lockPublish();
    source.published(stateAt(at), segments);
  }

  test::TempDir dir;
  RelaySource source;
};

std::vector<Pos> drain(SegmentIterator& it) {
  std::vector<Pos> out;
  while (auto s = it.next()) out.push_back(s->pos);
  return out;
}

}  // namespace

TEST_CASE("segments that continue the window are stored and reach live iterators") {
  Relay relay;
  CHECK_FALSE(relay.source.healthy());
  const Pos start{kGen, 0, 0};
  relay.publish(start);
  CHECK(relay.source.healthy());
  auto live = relay.source.openIterator(start);
  relay.publish({kGen, 0, 2 * kSegmentBytes}, {segment(0, 0), segment(0, kSegmentBytes)});
  CHECK(relay.source.position() == Pos{kGen, 0, 2 * kSegmentBytes});
  CHECK(drain(*live) == std::vector<Pos>{{kGen, 0, 0}, {kGen, 0, kSegmentBytes}});
  // A later iterator lists them from the files.
  auto listed = relay.source.openIterator({kGen, 0, kSegmentBytes});
  CHECK(drain(*listed) == std::vector<Pos>{{kGen, 0, kSegmentBytes}});
}

TEST_CASE("a state the segments do not lead to restarts the window and ends live iterators") {
  Relay relay;
  relay.publish({kGen, 0, 0});
  relay.publish({kGen, 0, kSegmentBytes}, {segment(0, 0)});
  auto live = relay.source.openIterator({kGen, 0, kSegmentBytes});
  // A snapshot further on (no segments): nothing before it can be served any more.
  relay.publish({kGen, 0, 5 * kSegmentBytes});
  REQUIRE(live->ending());
  CHECK(live->ending()->reason == IteratorEnd::kError);
  CHECK(relay.source.shadow().listIndexes(kGen).empty());
  auto fresh = relay.source.openIterator({kGen, 0, 5 * kSegmentBytes});
  relay.publish({kGen, 0, 6 * kSegmentBytes}, {segment(0, 5 * kSegmentBytes)});
  CHECK(drain(*fresh) == std::vector<Pos>{{kGen, 0, 5 * kSegmentBytes}});
}

TEST_CASE("a new generation ends live iterators with kGenerationChanged") {
  Relay relay;
  relay.publish({kGen, 0, 0});
  auto live = relay.source.openIterator({kGen, 0, 0});
  relay.publish({kGen + 1, 0, 0});
  REQUIRE(live->ending());
  CHECK(live->ending()->reason == IteratorEnd::kGenerationChanged);
  CHECK(relay.source.openIterator({kGen, 0, 0})->ending()->reason ==
        IteratorEnd::kGenerationChanged);
}

TEST_CASE("the window keeps its bound in WAL indexes, but not below what an iterator needs") {
  Relay relay(/*windowIndexes=*/2);
  relay.publish({kGen, 0, 0});
  auto reader = relay.source.openIterator({kGen, 0, 0});
  for (uint64_t index = 0; index < 4; ++index) {
    relay.publish({kGen, index, kSegmentBytes}, {segment(index, 0)});
  }
  CHECK(relay.source.shadow().listIndexes(kGen).size() == 4);  // the reader is at index 0
  reader->close();
  relay.publish({kGen, 4, kSegmentBytes}, {segment(4, 0)});
  CHECK(relay.source.shadow().listIndexes(kGen) == std::vector<uint64_t>{3, 4});
}

TEST_CASE("a window left by an earlier run is kept only if it ends exactly where LOCAL_DB is") {
  test::TempDir dir;
  const RelayOptions options{dir.file("local.db"), "00000000000000aa", 32, 10000};
  {
    RelaySource first(options);
    auto lock = first.lockPublish();
    first.published(stateAt({kGen, 0, 0}), {});
    const std::vector<RelaySegment> segments{segment(0, 0), segment(0, kSegmentBytes)};
    first.published(stateAt({kGen, 0, 2 * kSegmentBytes}), segments);
  }
  SUBCASE("it ends there: kept, and a downstream behind resumes from it") {
    RelaySource second(options);
    {
      auto lock = second.lockPublish();
      second.published(stateAt({kGen, 0, 2 * kSegmentBytes}), {});
    }
    CHECK(drain(*second.openIterator({kGen, 0, kSegmentBytes})) ==
          std::vector<Pos>{{kGen, 0, kSegmentBytes}});
  }
  SUBCASE("LOCAL_DB is further on: dropped") {
    RelaySource second(options);
    {
      auto lock = second.lockPublish();
      second.published(stateAt({kGen, 0, 3 * kSegmentBytes}), {});
    }
    CHECK(second.shadow().listIndexes(kGen).empty());
  }
}

TEST_CASE("a downstream that is this replica or one upstream of it is refused") {
  Relay relay;
  relay.source.setName("app.db");
  relay.source.setUpstreamChain("00000000000000bb,not-an-id,00000000000000cc");
  CHECK(relay.source.chainHeader() == "00000000000000aa,00000000000000bb,00000000000000cc");
  CHECK(relay.source.cycleWith("").empty());
  CHECK(relay.source.cycleWith("00000000000000dd").empty());
  CHECK(relay.source.cycleWith("00000000000000aa").find("a cycle of replicas") !=
        std::string::npos);
  CHECK(relay.source.cycleWith("00000000000000cc").find("upstream of this one") !=
        std::string::npos);
}
