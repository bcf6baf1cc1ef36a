#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "backup/layout.h"

using namespace walstream;
using namespace walstream::backup;

TEST_CASE("layout: keys are built from 16-digit lowercase hex names") {
  CHECK(generationsPrefix() == "generations/");
  CHECK(generationPrefix(0x0123456789abcdef) == "generations/0123456789abcdef/");
  CHECK(snapshotsPrefix(0xab) == "generations/00000000000000ab/snapshots/");
  CHECK(walPrefix(0xab) == "generations/00000000000000ab/wal/");
  CHECK(snapshotKey(0xab, 3) ==
        "generations/00000000000000ab/snapshots/0000000000000003.snapshot.lz4");
  CHECK(walObjectKey(Pos{0xab, 3, 0x1f60}) ==
        "generations/00000000000000ab/wal/0000000000000003/0000000000001f60.wal.lz4");
}

TEST_CASE("layout: keys parse back to what named them") {
  for (uint64_t generation : {uint64_t{1}, uint64_t{0x0123456789abcdef}, ~uint64_t{0}}) {
    for (uint64_t index : {uint64_t{0}, uint64_t{3}, ~uint64_t{0}}) {
      CAPTURE(generation);
      CAPTURE(index);
      const std::optional<SnapshotKey> snapshot = parseSnapshotKey(snapshotKey(generation, index));
      REQUIRE(snapshot.has_value());
      CHECK(snapshot->generation == generation);
      CHECK(snapshot->index == index);
      for (uint64_t offset : {uint64_t{0}, uint64_t{0x1f60}, ~uint64_t{0}}) {
        const Pos start{generation, index, offset};
        CHECK(parseWalObjectKey(walObjectKey(start)) == start);
      }
    }
    CHECK(parseGenerationName(formatHex16(generation)) == generation);
    CHECK(generationPrefix(generation) == generationsPrefix() + formatHex16(generation) + "/");
  }
}

TEST_CASE("layout: keys that are not exactly a backup object's are ignored") {
  const std::string gen = "generations/0123456789abcdef";
  for (const std::string& key : std::vector<std::string>{
           "",
           gen + "/snapshots/0000000000000003.snapshot.lz4.tmp",
           gen + "/snapshots/.0000000000000003.snapshot.lz4.tmp-0123456789abcdef",
           gen + "/snapshots/000000000000003.snapshot.lz4",    // 15 digits
           gen + "/snapshots/00000000000000003.snapshot.lz4",  // 17 digits
           gen + "/snapshots/000000000000000A.snapshot.lz4",   // upper case
           gen + "/snapshots/0000000000000003.wal.lz4",
           gen + "/snapshots/x/0000000000000003.snapshot.lz4",
           gen + "/snapshot/0000000000000003.snapshot.lz4",
           "generations/0000000000000000/snapshots/0000000000000003.snapshot.lz4",  // no generation
           "generations/0123456789ABCDEF/snapshots/0000000000000003.snapshot.lz4",
           "/" + gen + "/snapshots/0000000000000003.snapshot.lz4",
           "x/" + gen + "/snapshots/0000000000000003.snapshot.lz4",
       }) {
    CAPTURE(key);
    CHECK_FALSE(parseSnapshotKey(key).has_value());
    CHECK_FALSE(parseWalObjectKey(key).has_value());
  }
  for (const std::string& key : std::vector<std::string>{
           gen + "/wal/0000000000000003/0000000000001f60.wal.lz4.tmp",
           gen + "/wal/0000000000000003/.0000000000001f60.wal.lz4.tmp-0123456789abcdef",
           gen + "/wal/0000000000000003/0000000000001F60.wal.lz4",
           gen + "/wal/0000000000000003/000000000001f60.wal.lz4",
           gen + "/wal/0000000000000003-0000000000001f60.wal.lz4",
           gen + "/wal/0000000000000003/0000000000001f60.snapshot.lz4",
           gen + "/wal/0000000000000003/x/0000000000001f60.wal.lz4",
           gen + "/wal/0000000000001f60.wal.lz4",
           "generations/0000000000000000/wal/0000000000000003/0000000000001f60.wal.lz4",
       }) {
    CAPTURE(key);
    CHECK_FALSE(parseWalObjectKey(key).has_value());
    CHECK_FALSE(parseSnapshotKey(key).has_value());
  }
  for (const std::string name : {"", "0000000000000000", "0123456789ABCDEF", "123456789abcdef",
                                 "00123456789abcdef", ".0123456789abcdef", "0123456789abcdeg"}) {
    CAPTURE(name);
    CHECK_FALSE(parseGenerationName(name).has_value());
  }
}
