// WalOverlap: a WAL index resent from offset 0 is verified against the chain kept at the applied
// position, on real WAL bytes SQLite wrote, and skipped; one that is not the WAL applied is
// refused as diverged, however it differs.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "client/apply/wal_overlap.h"
#include "core/wal_segment.h"
#include "tests/support/sqlite_fixture.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;

namespace {

constexpr uint64_t kGeneration = 0x00000000000000a1ULL;
constexpr uint64_t kIndex = 3;

// The commit-aligned slices of a WAL SQLite wrote for `rows` transactions of one row each.
std::vector<WalSlice> walSlices(const TempDir& dir, const std::string& name, int rows) {
  const std::string path = dir.file(name);
  auto db = openWalDatabase(path);
  db->exec("CREATE TABLE t(x INTEGER PRIMARY KEY, v BLOB)");
  for (int i = 0; i < rows; ++i) {
    db->exec("INSERT INTO t(v) VALUES (randomblob(3000))");
  }
  std::vector<WalSlice> slices = splitWalAtCommits(readBytes(path + "-wal"));
  REQUIRE(slices.size() == static_cast<size_t>(rows + 1));
  return slices;
}

Pos at(uint64_t offset) {
  return {kGeneration, kIndex, offset};
}

// The chain after slices [0, n), as the replica keeps it at the end of slice n - 1.
WalChainState chainAfter(const std::vector<WalSlice>& slices, size_t n) {
  WalChainState chain;
  for (size_t i = 0; i < n; ++i) parseWalSegment(slices[i].bytes, slices[i].offset, chain);
  return chain;
}

uint64_t endOf(const WalSlice& s) {
  return s.offset + s.bytes.size();
}

std::vector<uint8_t> joined(const std::vector<WalSlice>& slices, size_t from, size_t to) {
  std::vector<uint8_t> out;
  for (size_t i = from; i < to; ++i) {
    out.insert(out.end(), slices[i].bytes.begin(), slices[i].bytes.end());
  }
  return out;
}

}  // namespace

TEST_CASE("a WAL index resent from offset 0 is verified up to the applied position") {
  TempDir dir;
  const std::vector<WalSlice> slices = walSlices(dir, "a.db", 5);
  const size_t applied = 4;  // slices [0, 4) applied
  const Pos position = at(endOf(slices[applied - 1]));
  const WalChainState kept = chainAfter(slices, applied);

  SUBCASE("segment by segment: inside, then reaching the position exactly") {
    WalOverlap overlap;
    for (size_t i = 0; i + 1 < applied; ++i) {
      CAPTURE(i);
      const auto o = overlap.check(at(slices[i].offset), slices[i].bytes, position, kept, true);
      CHECK(o.verdict == WalOverlap::Verdict::kInside);
    }
    const auto o = overlap.check(at(slices[applied - 1].offset), slices[applied - 1].bytes,
                                 position, kept, true);
    REQUIRE(o.verdict == WalOverlap::Verdict::kReachesPosition);
    CHECK(o.rest.empty());
    CHECK(o.chain.checksum == kept.checksum);
  }
  SUBCASE("one segment across the position: what follows it is left to apply") {
    WalOverlap overlap;
    const std::vector<uint8_t> all = joined(slices, 0, slices.size());
    const auto o = overlap.check(at(0), all, position, kept, true);
    REQUIRE(o.verdict == WalOverlap::Verdict::kReachesPosition);
    CHECK(std::vector<uint8_t>(o.rest.begin(), o.rest.end()) ==
          joined(slices, applied, slices.size()));
  }
  SUBCASE("a resend that starts over (a new stream) is followed from its header again") {
    WalOverlap overlap;
    CHECK(overlap.check(at(0), slices[0].bytes, position, kept, true).verdict ==
          WalOverlap::Verdict::kInside);
    const std::vector<uint8_t> all = joined(slices, 0, applied);
    CHECK(overlap.check(at(0), all, position, kept, true).verdict ==
          WalOverlap::Verdict::kReachesPosition);
  }
}

TEST_CASE("a resent WAL index that is not the one applied is refused as diverged") {
  TempDir dir;
  const std::vector<WalSlice> slices = walSlices(dir, "a.db", 5);
  const size_t applied = 3;
  const Pos position = at(endOf(slices[applied - 1]));
  const WalChainState kept = chainAfter(slices, applied);
  WalOverlap overlap;

  SUBCASE("another WAL (other salts): refused at its header") {
    const std::vector<WalSlice> other = walSlices(dir, "b.db", 5);
    const auto o = overlap.check(at(0), other[0].bytes, position, kept, true);
    CHECK(o.verdict == WalOverlap::Verdict::kDiverged);
    CHECK(o.why.find("salts") != std::string::npos);
  }
  SUBCASE("the same WAL, but the replica applied other transactions there") {
    WalChainState otherChecksum = kept;
    otherChecksum.checksum.s1 ^= 1;
    const std::vector<uint8_t> all = joined(slices, 0, slices.size());
    const auto o = overlap.check(at(0), all, position, otherChecksum, true);
    CHECK(o.verdict == WalOverlap::Verdict::kDiverged);
    CHECK(o.why.find("checksum") != std::string::npos);
  }
  SUBCASE("a damaged frame in the resent part") {
    std::vector<uint8_t> all = joined(slices, 0, applied);
    all[kWalHeaderSize + kWalFrameHeaderSize + 100] ^= 0xff;
    CHECK(overlap.check(at(0), all, position, kept, true).verdict ==
          WalOverlap::Verdict::kDiverged);
  }
  SUBCASE("a position that is not a commit boundary of the resent WAL") {
    const Pos inside = at(position.offset - 8);
    const std::vector<uint8_t> all = joined(slices, 0, slices.size());
    CHECK(overlap.check(at(0), all, inside, kept, true).verdict == WalOverlap::Verdict::kDiverged);
  }
  SUBCASE("no checksum kept at the position: nothing to verify against") {
    const std::vector<uint8_t> all = joined(slices, 0, slices.size());
    CHECK(overlap.check(at(0), all, position, kept, false).verdict ==
          WalOverlap::Verdict::kDiverged);
  }
  SUBCASE("a resend that does not start at the WAL header is out of order") {
    const auto o = overlap.check(at(slices[1].offset), slices[1].bytes, position, kept, true);
    CHECK(o.verdict == WalOverlap::Verdict::kOutOfOrder);
  }
}
