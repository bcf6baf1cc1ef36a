// ReplicaApplier and a primary of the original protocol (docs/wire-format.md §9): its segments
// are lz4 frames of any kind (no content size, other block sizes, with or without checksums),
// and on every resume it resends the whole WAL index from offset 0, which the applier verifies
// against the chain at its position and skips, or refuses as diverged.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <memory>
#include <string>
#include <vector>

#include "client/replica_applier.h"
#include "core/file_util.h"
#include "core/sqlite_conn.h"
#include "tests/support/lz4_frames.h"
#include "tests/support/sqlite_fixture.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;

namespace {

constexpr uint64_t kGeneration = 0x00c0ffee00c0ffeeULL;
constexpr uint64_t kIndex = 5;
constexpr uint32_t kPageSize = 4096;

// A primary's database at offset 0 of its WAL (the file alone) and the WAL written after it.
struct OriginalIndex {
  std::string image;
  std::vector<WalSlice> slices;  // one transaction each
  std::vector<std::string> rows;

  OriginalIndex(const TempDir& dir, const std::string& name, int transactions) {
    const std::string path = dir.file(name);
    const auto c = openWalDatabase(path);  // never checkpointed: the file stays at offset 0
    image = readFile(path);
    c->exec("CREATE TABLE t(x INTEGER PRIMARY KEY, v TEXT, b BLOB)");
    for (int i = 0; i < transactions; ++i) {
      c->exec("INSERT INTO t(v, b) VALUES('" + name + std::to_string(i) + "', randomblob(2500))");
    }
    rows = queryRows(*c, "SELECT x, v, hex(b) FROM t ORDER BY x");
    slices = splitWalAtCommits(readBytes(path + "-wal"));
    REQUIRE(slices.size() == static_cast<size_t>(transactions + 1));
  }

  client::ReceivedSegment segment(size_t from, size_t to, const Lz4FrameKind& kind = {}) const {
    std::string raw;
    for (size_t i = from; i < to; ++i) raw.append(slices[i].bytes.begin(), slices[i].bytes.end());
    const std::string lz4 = lz4FrameOf(raw, kind);
    return {Pos{kGeneration, kIndex, slices[from].offset},
            std::vector<uint8_t>(lz4.begin(), lz4.end())};
  }
  uint64_t endOf(size_t slice) const { return slices[slice].offset + slices[slice].bytes.size(); }
};

void installSnapshot(client::ReplicaApplier& a, const OriginalIndex& w) {
  a.beginSnapshot(Pos{kGeneration, kIndex, 0}, kPageSize, w.image.size());
  a.snapshotBytes(asBytes(w.image));
  a.endSnapshot();
}

std::vector<std::string> rowsOf(const std::string& db) {
  SqliteConnection c(db, SQLITE_OPEN_READONLY);
  return queryRows(c, "SELECT x, v, hex(b) FROM t ORDER BY x");
}

}  // namespace

TEST_CASE("segments in lz4 frames without a content size, of any block size, are applied") {
  TempDir dir;
  const OriginalIndex w(dir, "source.db", 12);
  client::ReplicaApplier a(dir.file("replica.db"), {});
  installSnapshot(a, w);
  const Lz4FrameKind kinds[] = {
      {.contentSize = false},  // as the original primary writes them
      {.contentSize = false, .blockSize = size_t{64} << 10, .blockChecksums = true},
      {.contentSize = false, .blockSize = size_t{256} << 10, .contentChecksum = false},
      {.contentSize = false, .blockSize = size_t{1} << 20, .linkedBlocks = true},
      {.contentSize = true, .blockSize = size_t{64} << 10, .linkedBlocks = true},
  };
  size_t at = 0;
  for (const Lz4FrameKind& kind : kinds) {
    CAPTURE(at);
    const size_t to = std::min(at + 3, w.slices.size());
    CHECK(a.applySegments({w.segment(at, to, kind)}) == to - at);
    at = to;
  }
  REQUIRE(at == w.slices.size());
  CHECK(a.position()->pos == Pos{kGeneration, kIndex, w.endOf(w.slices.size() - 1)});
  CHECK(rowsOf(dir.file("replica.db")) == w.rows);
}

TEST_CASE("a segment without a content size is still bounded and checked") {
  TempDir dir;
  const OriginalIndex w(dir, "source.db", 3);
  client::ReplicaApplier a(dir.file("replica.db"), {});
  installSnapshot(a, w);
  // Not whole frames: refused once its size is known.
  std::string raw(w.slices[0].bytes.begin(), w.slices[0].bytes.end());
  raw.resize(raw.size() - 100);
  const std::string cut = lz4FrameOf(raw, {});
  CHECK_THROWS_WITH_AS(a.applySegments({{Pos{kGeneration, kIndex, 0},
                                         std::vector<uint8_t>(cut.begin(), cut.end())}}),
                       doctest::Contains("not a whole number"), Error);
  // 64 MiB of zeros: refused while decompressing, at the first check of its WAL header, long
  // before all of it is held.
  const std::string zeros = lz4FrameOf(std::string(size_t{64} << 20, '\0'), {});
  CHECK_THROWS_WITH_AS(a.applySegments({{Pos{kGeneration, kIndex, 0},
                                         std::vector<uint8_t>(zeros.begin(), zeros.end())}}),
                       doctest::Contains("without a content size"), Error);
  CHECK(a.position()->pos == Pos{kGeneration, kIndex, 0});
}

TEST_CASE("a WAL index resent from offset 0 is verified and skipped, then applying goes on") {
  TempDir dir;
  const OriginalIndex w(dir, "source.db", 10);
  auto owned =
      std::make_unique<client::ReplicaApplier>(dir.file("replica.db"), client::ApplierOptions{});
  client::ReplicaApplier& a = *owned;
  installSnapshot(a, w);
  CHECK(a.applySegments({w.segment(0, 4), w.segment(4, 6)}) == 6);
  const Pos applied = a.position()->pos;

  // The primary restarted: the index again from offset 0, in segments of its own cut, one of
  // them across the applied position.
  CHECK(a.applySegments({w.segment(0, 2)}) == 0);
  CHECK(a.position()->pos == applied);
  CHECK(a.applySegments({w.segment(2, 5), w.segment(5, 8)}) == 2);
  CHECK(a.position()->pos == Pos{kGeneration, kIndex, w.endOf(7)});
  // And once more, in one segment that ends exactly at the applied position, then new ones.
  CHECK(a.applySegments({w.segment(0, 8)}) == 0);
  CHECK(a.applySegments({w.segment(8, 11)}) == 3);
  CHECK(rowsOf(dir.file("replica.db")) == w.rows);

  // A reopened applier (the replica restarted) verifies against the chain it saved.
  owned.reset();
  client::ReplicaApplier reopened(dir.file("replica.db"), {});
  REQUIRE(reopened.position().has_value());
  CHECK(reopened.applySegments({w.segment(0, 11)}) == 0);
  CHECK(reopened.position()->pos == Pos{kGeneration, kIndex, w.endOf(10)});
}

TEST_CASE("a resent WAL index that is not the one applied is refused: the position is forgotten") {
  TempDir dir;
  const OriginalIndex w(dir, "source.db", 6);
  const OriginalIndex other(dir, "other.db", 9);
  client::ReplicaApplier a(dir.file("replica.db"), {});
  installSnapshot(a, w);
  CHECK(a.applySegments({w.segment(0, 7)}) == 7);
  CHECK_THROWS_AS(a.applySegments({other.segment(0, 9)}), client::WalDivergedError);
  CHECK_FALSE(a.position().has_value());
  CHECK_FALSE(pathExists(dir.file("replica.db") + "-walstream/position"));
  // Nothing of the other WAL was applied.
  CHECK(rowsOf(dir.file("replica.db")) == w.rows);
}
