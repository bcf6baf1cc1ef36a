#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <thread>

#include "server/capture/segment_iterator.h"

using namespace walstream;

namespace {

constexpr uint64_t kGen = 0x0123456789abcdefULL;

SegmentInfo seg(uint64_t index, uint64_t offset, uint64_t gen = kGen) {
  SegmentInfo s;
  s.pos = {gen, index, offset};
  s.size = 100 + offset;
  return s;
}

std::deque<SegmentInfo> listed() {
  return {seg(2, 0), seg(2, 4152), seg(2, 8272)};
}

}  // namespace

TEST_CASE("segments come out of next() in order: listed ones, then appended ones") {
  SegmentIterator it(kGen, listed());
  CHECK(it.generation() == kGen);
  CHECK(it.pending() == 3);
  CHECK(it.append(seg(2, 12392)));
  CHECK(it.append(seg(3, 0)));
  CHECK(it.append(seg(3, 4152)));
  CHECK(it.pending() == 6);
  const Pos expected[] = {{kGen, 2, 0},     {kGen, 2, 4152}, {kGen, 2, 8272},
                          {kGen, 2, 12392}, {kGen, 3, 0},    {kGen, 3, 4152}};
  for (const Pos& p : expected) {
    auto s = it.next();
    REQUIRE(s.has_value());
    CHECK(s->pos == p);
    CHECK(s->size == 100 + p.offset);
  }
  CHECK_FALSE(it.next().has_value());
  CHECK(it.pending() == 0);
  CHECK_FALSE(it.error().has_value());
  // Order rules still apply to what was already consumed.
  CHECK_FALSE(it.append(seg(3, 4152)));
  CHECK(it.error() == "appended offset " + Pos{kGen, 3, 4152}.str() +
                          " is not after the last offset " + Pos{kGen, 3, 4152}.str());
}

TEST_CASE("appends that break the sequence fail the iterator with a clear message") {
  SegmentIterator it(kGen, listed());
  std::string expected;
  SUBCASE("index below the last") {
    CHECK_FALSE(it.append(seg(1, 0)));
    expected = "appended index 0000000000000001 below last index 0000000000000002";
  }
  SUBCASE("skipped index") {
    CHECK_FALSE(it.append(seg(4, 0)));
    expected = "appended index 0000000000000004 skips index 0000000000000003";
  }
  SUBCASE("duplicate offset") {
    CHECK_FALSE(it.append(seg(2, 8272)));
    expected = "appended offset " + Pos{kGen, 2, 8272}.str() + " is not after the last offset " +
               Pos{kGen, 2, 8272}.str();
  }
  SUBCASE("earlier offset") {
    CHECK_FALSE(it.append(seg(2, 4152)));
    expected = "appended offset " + Pos{kGen, 2, 4152}.str() + " is not after the last offset " +
               Pos{kGen, 2, 8272}.str();
  }
  SUBCASE("next index not starting at offset 0") {
    CHECK_FALSE(it.append(seg(3, 4152)));
    expected = "appended segment " + Pos{kGen, 3, 4152}.str() +
               " starts index 0000000000000003 past offset 0";
  }
  SUBCASE("generation mismatch") {
    CHECK_FALSE(it.append(seg(2, 12392, kGen + 1)));
    expected =
        "generation changed: appended segment of generation 0123456789abcdf0 to an iterator of "
        "generation 0123456789abcdef";
  }
  CHECK(it.error() == expected);
  REQUIRE(it.ending());
  // Only a segment of another generation ends the iterator as a generation change.
  CHECK((it.ending()->reason == IteratorEnd::kGenerationChanged) ==
        expected.starts_with("generation changed"));
  const IteratorEnd reason = it.ending()->reason;
  // A failed iterator hands out nothing more, even what was pending, and refuses appends.
  CHECK_FALSE(it.next().has_value());
  CHECK_FALSE(it.append(seg(2, 12392)));
  it.fail(IteratorEnd::kClosed, "later reason");
  CHECK(it.error() == expected);  // the first ending is kept
  CHECK(it.ending()->reason == reason);
}

TEST_CASE("valid continuations: offset after the last, index + 1 at offset 0, empty start") {
  SegmentIterator it(kGen, listed());
  CHECK(it.append(seg(2, 8273)));
  CHECK(it.append(seg(3, 0)));
  CHECK(it.append(seg(4, 0)));
  CHECK(it.append(seg(4, 1 << 30)));
  CHECK_FALSE(it.error().has_value());
  CHECK(it.pending() == 7);

  // An iterator that starts with nothing accepts any first segment of its generation.
  SegmentIterator empty(kGen, {});
  CHECK_FALSE(empty.next().has_value());
  CHECK(empty.append(seg(7, 8272)));
  CHECK(empty.append(seg(7, 12392)));
  CHECK_FALSE(empty.append(seg(6, 0)));
  CHECK(empty.error() == "appended index 0000000000000006 below last index 0000000000000007");
}

TEST_CASE("armNotify: refused when something is pending or failed, fires once per arming") {
  SegmentIterator it(kGen, listed());
  int calls = 0;
  CHECK_FALSE(it.armNotify([&] { ++calls; }));  // pending segments: consume them first
  while (it.next()) {
  }
  REQUIRE(it.armNotify([&] { ++calls; }));
  CHECK(calls == 0);
  CHECK(it.append(seg(2, 12392)));
  CHECK(calls == 1);
  CHECK(it.next().has_value());
  CHECK(it.append(seg(2, 16512)));  // not armed again: no call
  CHECK(calls == 1);
  CHECK(it.next().has_value());

  // Failure fires an armed callback once; afterwards arming is refused.
  REQUIRE(it.armNotify([&] { ++calls; }));
  it.fail(IteratorEnd::kGenerationChanged, "generation changed");
  CHECK(calls == 2);
  it.fail(IteratorEnd::kError, "again");
  CHECK(calls == 2);
  CHECK_FALSE(it.armNotify([&] { ++calls; }));
  CHECK(it.error() == "generation changed");
  CHECK(it.ending()->reason == IteratorEnd::kGenerationChanged);

  // A failing append fires it too.
  SegmentIterator it2(kGen, {});
  REQUIRE(it2.armNotify([&] { ++calls; }));
  CHECK_FALSE(it2.append(seg(1, 0, 99)));
  CHECK(calls == 3);
}

TEST_CASE("armNotify: the callback may call back into the iterator") {
  SegmentIterator it(kGen, {});
  std::optional<SegmentInfo> seen;
  bool rearmed = false;
  REQUIRE(it.armNotify([&] {
    seen = it.next();
    rearmed = it.armNotify([] {});
  }));
  CHECK(it.append(seg(5, 0)));
  REQUIRE(seen.has_value());
  CHECK(seen->pos == Pos{kGen, 5, 0});
  CHECK(rearmed);
}

TEST_CASE("close: drops pending segments and the armed callback, refuses appends") {
  SegmentIterator it(kGen, {});
  int calls = 0;
  REQUIRE(it.armNotify([&] { ++calls; }));
  CHECK_FALSE(it.closed());
  it.close();
  CHECK(it.closed());
  CHECK_FALSE(it.append(seg(1, 0)));
  it.fail(IteratorEnd::kError, "after close");
  CHECK(calls == 0);
  CHECK_FALSE(it.armNotify([&] { ++calls; }));
  CHECK_FALSE(it.next().has_value());

  SegmentIterator withPending(kGen, listed());
  withPending.close();
  CHECK(withPending.pending() == 0);
  CHECK_FALSE(withPending.next().has_value());
  CHECK_FALSE(withPending.error().has_value());  // closing is not an error
}

TEST_CASE("a producer thread appends while a consumer waits via armNotify: each segment once") {
  constexpr uint64_t kSegments = 5000;
  constexpr uint64_t kPerIndex = 97;
  // Every kParkEvery segments the producer waits until the consumer has parked, so the test
  // covers wake-ups for sure, not only by luck of scheduling.
  constexpr uint64_t kParkEvery = 500;
  auto posOf = [](uint64_t i) { return Pos{kGen, 1 + i / kPerIndex, (i % kPerIndex) * 4152}; };
  SegmentIterator it(kGen, {});
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);

  std::mutex mu;
  std::condition_variable cv;
  uint64_t wakeups = 0;  // under mu: callbacks run
  uint64_t parks = 0;    // under mu: successful armNotify calls

  std::vector<Pos> received;
  std::string consumerError;
  std::thread consumer([&] {
    while (received.size() < kSegments) {
      if (std::chrono::steady_clock::now() > deadline) {
        consumerError = "timed out after " + std::to_string(received.size()) + " segments";
        return;
      }
      while (auto s = it.next()) received.push_back(s->pos);
      if (auto e = it.error()) {
        consumerError = *e;
        return;
      }
      if (received.size() == kSegments) break;
      std::unique_lock lock(mu);
      const uint64_t seen = wakeups;
      bool armed = it.armNotify([&] {
        std::lock_guard l(mu);
        ++wakeups;
        cv.notify_all();
      });
      if (!armed) continue;  // something arrived meanwhile: drain it
      ++parks;
      cv.notify_all();
      cv.wait_until(lock, deadline, [&] { return wakeups != seen; });
    }
  });
  std::thread producer([&] {
    uint64_t parksSeen = 0;
    for (uint64_t i = 0; i < kSegments; ++i) {
      if (i % kParkEvery == 0) {
        std::unique_lock lock(mu);
        cv.wait_until(lock, deadline, [&] { return parks > parksSeen; });
        parksSeen = parks;
      }
      SegmentInfo s;
      s.pos = posOf(i);
      if (!it.append(std::move(s))) return;
    }
  });
  producer.join();
  consumer.join();

  CHECK(consumerError == "");
  CHECK_FALSE(it.error().has_value());
  REQUIRE(received.size() == kSegments);
  bool inOrder = true;
  for (uint64_t i = 0; i < kSegments; ++i) inOrder = inOrder && received[i] == posOf(i);
  CHECK(inOrder);
  CHECK_FALSE(it.next().has_value());
  std::lock_guard lock(mu);
  CHECK(wakeups >= kSegments / kParkEvery);
  CHECK(wakeups == parks);  // every arming fired exactly once
}

TEST_CASE("an iterator that knows no segment takes only one starting where its consumer is") {
  const Pos start{kGen, 2, 8272};
  SUBCASE("a segment elsewhere in the index is a hole") {
    SegmentIterator it(kGen, {}, start);
    CHECK_FALSE(it.append(seg(2, 12392)));
    REQUIRE(it.error());
    CHECK(it.error()->find("does not start at") != std::string::npos);
  }
  SUBCASE("a later index is a hole") {
    SegmentIterator it(kGen, {}, start);
    CHECK_FALSE(it.append(seg(4, 0)));
    CHECK(it.error());
  }
  SUBCASE("exactly at the start") {
    SegmentIterator it(kGen, {}, start);
    CHECK(it.append(seg(2, 8272)));
    CHECK(it.append(seg(2, 12392)));
    CHECK_FALSE(it.error());
  }
  SUBCASE("the next index's start, after a WAL restart at the consumer's position") {
    SegmentIterator it(kGen, {}, start);
    CHECK(it.append(seg(3, 0)));
    CHECK_FALSE(it.error());
  }
}

TEST_CASE("the retention floor follows what the consumer has sent, never backwards") {
  SegmentIterator it(kGen, listed(), Pos{kGen, 2, 0});
  CHECK(it.floorIndex() == 2);
  it.consumed({kGen, 4, 100});
  CHECK(it.floorIndex() == 4);
  it.consumed({kGen, 3, 0});
  CHECK(it.floorIndex() == 4);
}

TEST_CASE("a segment of known size must be followed by one starting where it ended") {
  auto sized = [](uint64_t index, uint64_t offset, uint64_t walBytes) {
    SegmentInfo s = seg(index, offset);
    s.walBytes = walBytes;
    return s;
  };
  // Listed: index 2 from 32 to 4152, then 4152 to 8272.
  SegmentIterator it(kGen, {sized(2, 0, 4152), sized(2, 4152, 4120)});
  SUBCASE("a hole inside the index fails the iterator") {
    CHECK_FALSE(it.append(sized(2, 12392, 4120)));
    CHECK(it.error() == "appended segment " + Pos{kGen, 2, 12392}.str() +
                            " does not start where the last one ended, " +
                            Pos{kGen, 2, 8272}.str());
  }
  SUBCASE("the first segment of the next index records where this one ended") {
    CHECK(it.append(sized(2, 8272, 4120)));
    CHECK(it.append(sized(3, 0, 4152)));
    CHECK(it.append(sized(3, 4152, 4120)));
    CHECK(it.append(seg(4, 0)));  // index 3's last size is known too
    CHECK(it.append(seg(4, 4152)));
    CHECK(it.append(seg(5, 0)));  // index 4's last size is not
    std::vector<uint64_t> ends;
    while (auto s = it.next()) ends.push_back(s->previousIndexEnd);
    CHECK(ends == std::vector<uint64_t>{0, 0, 0, 12392, 0, 8272, 0, 0});
  }
  SUBCASE("also across a listed index change") {
    SegmentIterator listedChange(kGen, {sized(2, 8272, 4120), sized(3, 0, 4152)});
    CHECK(listedChange.next()->previousIndexEnd == 0);
    CHECK(listedChange.next()->previousIndexEnd == 12392);
  }
}
