#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "backup/retention.h"

using namespace walstream;
using namespace walstream::backup;

namespace {

constexpr uint64_t kOld = 0xaaaa;
constexpr uint64_t kNew = 0xbbbb;

// A generation's listing and snapshot indexes, built from (index, offset, time) of its
// snapshots and the starts of its WAL objects.
struct GenerationBuilder {
  GenerationState state;
  explicit GenerationBuilder(uint64_t generation) { state.listing.generation = generation; }

  GenerationBuilder& snapshot(uint64_t index, uint64_t offset, int64_t atMs) {
    const uint64_t g = state.listing.generation;
    SnapshotEntry e;
    e.key = "snap/" + std::to_string(g) + "/" + std::to_string(index);
    e.generation = g;
    e.index = index;
    state.listing.snapshots.push_back(e);
    SnapshotIndex s;
    s.position = Pos{g, index, offset};
    s.capturedAtMs = atMs;
    state.snapshots.push_back(s);
    return *this;
  }
  GenerationBuilder& wal(uint64_t index, uint64_t offset) {
    const uint64_t g = state.listing.generation;
    WalObjectEntry w;
    w.key = "wal/" + std::to_string(g) + "/" + std::to_string(index) + "/" + std::to_string(offset);
    w.start = Pos{g, index, offset};
    state.listing.walObjects.push_back(w);
    return *this;
  }
};

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

}  // namespace

TEST_CASE("nothing is removed while every snapshot is inside the window") {
  GenerationBuilder g(kNew);
  g.snapshot(0, 0, 1000).wal(0, 0).wal(0, 500).snapshot(1, 100, 2000).wal(1, 0);
  CHECK(planRetention({g.state}, 999, kNew).empty());
}

TEST_CASE("in one generation, what lies before the snapshot that restores the window's start") {
  GenerationBuilder g(kNew);
  g.snapshot(0, 0, 1000)
      .wal(0, 0)
      .wal(0, 500)
      .snapshot(1, 300, 2000)
      .wal(1, 0)    // ends at 200 (the next starts there): before the snapshot at 300
      .wal(1, 200)  // holds 300: kept
      .wal(1, 900)
      .snapshot(2, 0, 3000)
      .wal(2, 0);
  // The window starts at 2500: the snapshot at 2000 restores it.
  CHECK(sorted(planRetention({g.state}, 2500, kNew)) ==
        sorted({"snap/48059/0", "wal/48059/0/0", "wal/48059/0/500", "wal/48059/1/0"}));
  // At 3500 the newest snapshot restores it: everything before it goes, never it or what follows.
  const auto removed = sorted(planRetention({g.state}, 3500, kNew));
  CHECK(std::find(removed.begin(), removed.end(), "snap/48059/2") == removed.end());
  CHECK(std::find(removed.begin(), removed.end(), "wal/48059/2/0") == removed.end());
  CHECK(removed.size() == 7);
}

TEST_CASE("an older generation goes once a newer one's snapshot restores the window's start") {
  GenerationBuilder old(kOld);
  old.snapshot(0, 0, 1000).wal(0, 0).wal(1, 0);
  GenerationBuilder now(kNew);
  now.snapshot(0, 0, 5000).wal(0, 0);
  // The window starts before the new generation: the old one still restores [W, 5000).
  CHECK(planRetention({old.state, now.state}, 4000, kNew).empty());
  // Once the new generation's first snapshot is old enough, the old generation is not needed.
  CHECK(sorted(planRetention({old.state, now.state}, 6000, kNew)) ==
        sorted({"snap/43690/0", "wal/43690/0/0", "wal/43690/1/0"}));
}

TEST_CASE("the generation being written is never removed, even without a snapshot") {
  GenerationBuilder old(kOld);
  old.snapshot(0, 0, 1000).wal(0, 0);
  GenerationBuilder current(kNew);
  current.wal(0, 0);  // its first snapshot is being written
  CHECK(planRetention({old.state, current.state}, 9000, kNew).empty());
}
