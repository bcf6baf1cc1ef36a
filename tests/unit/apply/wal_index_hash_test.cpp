#include <doctest/doctest.h>
#include <fcntl.h>

#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "client/apply/wal_index_hash.h"
#include "core/error.h"
#include "core/file_util.h"
#include "core/ofd_lock.h"
#include "core/wal_format.h"
#include "core/wal_index.h"
#include "core/wal_segment.h"
#include "tests/support/sqlite_fixture.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;

namespace {

// The page of every frame 1..n, in order (index 0 is frame 1).
using FramePages = std::vector<uint32_t>;

// The reference answer for a lookup: the latest frame in [minFrame, maxFrame] holding `page`.
uint32_t latestFrame(const FramePages& frames, uint32_t page, uint32_t maxFrame,
                     uint32_t minFrame) {
  for (uint32_t f = maxFrame; f >= std::max<uint32_t>(minFrame, 1); --f) {
    if (frames[f - 1] == page) return f;
  }
  return 0;
}

// Compares findFrame(page, lookupMax, minFrame) with the latest frame in [minFrame, modelMax]
// for every page; lookupMax defaults to modelMax.
void checkLookups(WalIndexFile& index, const FramePages& frames, uint32_t modelMax,
                  uint32_t minFrame, uint32_t highestPage, uint32_t lookupMax = 0) {
  if (lookupMax == 0) lookupMax = modelMax;
  CAPTURE(modelMax);
  CAPTURE(lookupMax);
  CAPTURE(minFrame);
  size_t mismatches = 0;
  for (uint32_t page = 1; page <= highestPage + 3; ++page) {
    const uint32_t want = latestFrame(frames, page, modelMax, minFrame);
    const uint32_t got = index.findFrame(page, lookupMax, minFrame);
    if (got != want) {
      if (++mismatches <= 5) FAIL_CHECK("page " << page << ": found " << got << ", want " << want);
    }
  }
  CHECK(mismatches == 0);
}

std::vector<uint8_t> preadAll(int fd, const std::string& path) {
  std::vector<uint8_t> bytes(fileSize(fd, path));
  bytes.resize(preadFull(fd, bytes.data(), bytes.size(), 0, path));
  return bytes;
}

}  // namespace

TEST_CASE("wal-index geometry matches SQLite's worked examples") {
  CHECK(walIndexBlockOf(1) == 0);
  CHECK(walIndexBlockOf(4062) == 0);
  CHECK(walIndexBlockOf(4063) == 1);
  CHECK(walIndexBlockOf(4062 + 4096) == 1);
  CHECK(walIndexBlockOf(4062 + 4097) == 2);
  CHECK(walIndexBlockOf(0xffffffffu) == (0xffffffffull + 33) / 4096);
  CHECK(walIndexBlockBase(0) == 0);
  CHECK(walIndexBlockBase(1) == 4062);
  CHECK(walIndexBlockBase(2) == 4062 + 4096);
  CHECK(walIndexBlockCapacity(0) == 4062);
  CHECK(walIndexBlockCapacity(3) == 4096);
  CHECK(walIndexPageEntryOffset(1) == 136);
  CHECK(walIndexPageEntryOffset(4062) == 16380);  // the last array slot of block 0
  CHECK(walIndexPageEntryOffset(4063) == 32768);  // idx 1 of block 1
  CHECK(4063 - walIndexBlockBase(walIndexBlockOf(4063)) == 1);
  CHECK(walIndexPageEntryOffset(4064) == 32772);
  CHECK(walIndexHashSlotOffset(0, 0) == 16384);
  CHECK(walIndexHashSlotOffset(1, 8191) == 32768 + 16384 + 2 * 8191);
  CHECK(walIndexHashKey(1) == 383);
  CHECK(walIndexHashKey(22) == (22 * 383) % 8192);
  CHECK(walIndexHashKey(0x80000000u) == 0);
  CHECK(walIndexFileSizeFor(0) == 32768);
  CHECK(walIndexFileSizeFor(4062) == 32768);
  CHECK(walIndexFileSizeFor(4063) == 65536);
  CHECK(walIndexFileSizeFor(4594) == 65536);  // a 4594-frame WAL needs a 64 KiB -shm
  CHECK(walIndexFileSizeFor(4062 + 4096 + 1) == 98304);
}

TEST_CASE("lookups and inserts agree with the wal-index SQLite wrote") {
  TempDir dir;
  const std::string path = dir.file("app.db");
  constexpr uint32_t kPageSize = 1024;
  // Declared first: these descriptors outlive the SQLite connection (docs/sqlite-wal.md §4.5).
  UniqueFd walFd;
  UniqueFd shmFd;
  auto db = openWalDatabase(path, {.pageSize = kPageSize});
  db->exec("PRAGMA synchronous=OFF");  // thousands of commits; durability is not under test
  db->exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
  db->exec("BEGIN");
  for (int i = 0; i < 400; ++i) db->exec("INSERT INTO t(v) VALUES(randomblob(300))");
  db->exec("COMMIT");
  walFd = openFile(path + "-wal", O_RDONLY);
  // Small transactions that rewrite random rows, until the WAL spans block 1 of the index.
  std::mt19937 rng(7);
  SqliteStatement update(*db, "UPDATE t SET v = randomblob(300) WHERE id = ?");
  for (int txn = 0; fileSize(walFd.get(), path) < 32 + 4700ull * (kPageSize + 24); ++txn) {
    REQUIRE(txn < 5000);
    db->exec("BEGIN");
    for (uint32_t i = 0; i <= rng() % 3; ++i) {
      update.bind(1, static_cast<int64_t>(1 + rng() % 400));
      update.step();
      update.reset();
    }
    db->exec("COMMIT");
  }
  shmFd = openFile(path + "-shm", O_RDWR);
  OfdLock dms = OfdLock::tryAcquire(shmFd.get(), kShmDmsLock, 1, LockMode::Shared, path);
  REQUIRE(dms.held());
  WalIndexFile sqliteIndex(shmFd.get(), path + "-shm", /*writable=*/false);
  const auto header = readWalIndexHeader(sqliteIndex.block(0));
  REQUIRE(header);
  const uint32_t mx = header->mxFrame;
  REQUIRE(mx > 4600);
  CHECK(fileSize(shmFd.get(), path) == walIndexFileSizeFor(mx));

  // Every frame's page, from the WAL file itself.
  const auto wal = preadAll(walFd.get(), path + "-wal");
  WalChainState chain;
  const auto parsed = parseWalSegment(
      std::span(wal).first(static_cast<size_t>(walFrameOffset(mx + 1, kPageSize))), 0, chain);
  FramePages frames;
  uint32_t highestPage = 0;
  for (const auto& t : parsed.transactions) {
    for (const auto& f : t.frames) {
      frames.push_back(f.header.pageNumber);
      highestPage = std::max(highestPage, f.header.pageNumber);
    }
  }
  REQUIRE(frames.size() == mx);
  CHECK(chain.checksum == header->frameChecksum);

  for (uint32_t maxFrame : {mx, 4063u, 4062u, 4061u, 100u, 1u}) {
    checkLookups(sqliteIndex, frames, maxFrame, 1, highestPage);
  }
  checkLookups(sqliteIndex, frames, mx, 4000, highestPage);
  checkLookups(sqliteIndex, frames, mx, 4063, highestPage);
  CHECK(sqliteIndex.findFrame(1, 0, 1) == 0);

  // Our inserts, frame by frame into a fresh file, produce SQLite's bytes exactly.
  const std::string minePath = dir.file("mine-shm");
  UniqueFd mineFd = openFile(minePath, O_RDWR | O_CREAT, 0644);
  WalIndexFile mine(mineFd.get(), minePath, /*writable=*/true);
  for (uint32_t f = 1; f <= mx; ++f) mine.insert(f, frames[f - 1], f - 1);
  CHECK(fileSize(mineFd.get(), minePath) == walIndexFileSizeFor(mx));
  const auto theirs = preadAll(shmFd.get(), path + "-shm");
  const auto ours = preadAll(mineFd.get(), minePath);
  REQUIRE(theirs.size() == ours.size());
  CHECK(std::memcmp(theirs.data() + kWalIndexHeaderRegionSize,
                    ours.data() + kWalIndexHeaderRegionSize,
                    theirs.size() - kWalIndexHeaderRegionSize) == 0);
  checkLookups(mine, frames, mx, 1, highestPage);

  SUBCASE("cleaning after a crashed writer removes exactly the frames beyond mxFrame") {
    for (uint32_t limit : {mx - 20, 4070u, 4062u, 3000u}) {
      CAPTURE(limit);
      mine.removeFramesAfter(limit);
      // Lookups up to the end of the cleaned block find only frames up to the limit.
      const uint32_t k = walIndexBlockOf(limit);
      const uint32_t blockEnd = std::min(mx, walIndexBlockBase(k) + walIndexBlockCapacity(k));
      checkLookups(mine, frames, limit, 1, highestPage, blockEnd);
      const uint32_t idxLimit = limit - walIndexBlockBase(k);
      uint8_t* b = mine.block(k);
      for (uint32_t s = 0; s < kWalIndexHashSlots; ++s) {
        REQUIRE(shmLoad16(b, kWalIndexHashTableOffset + 2 * s) <= idxLimit);
      }
      for (uint32_t i = idxLimit; i < walIndexBlockCapacity(k); ++i) {
        REQUIRE(shmLoad32(b, walIndexArrayStart(k) + 4 * i) == 0);
      }
      // Re-inserting the same frames restores SQLite's bytes.
      for (uint32_t f = limit + 1; f <= mx; ++f) mine.insert(f, frames[f - 1], f - 1);
      const auto again = preadAll(mineFd.get(), minePath);
      CHECK(std::memcmp(theirs.data() + kWalIndexHeaderRegionSize,
                        again.data() + kWalIndexHeaderRegionSize,
                        theirs.size() - kWalIndexHeaderRegionSize) == 0);
    }
  }

  SUBCASE("an insert over a stale entry cleans the block first") {
    // Frames 3001..3010 get other pages while the index still holds the old ones: the first
    // insert finds its entry taken and removes everything after mxFrame 3000.
    FramePages changed = frames;
    changed.resize(3010);
    for (uint32_t f = 3001; f <= 3010; ++f) {
      changed[f - 1] = highestPage + 1 + (f % 3);
      mine.insert(f, changed[f - 1], 3000);
    }
    checkLookups(mine, changed, 3010, 1, highestPage + 4);
    checkLookups(mine, changed, 3005, 2990, highestPage + 4);
  }
}

TEST_CASE("the wal-index grows by whole blocks without touching existing bytes") {
  TempDir dir;
  const std::string path = dir.file("x-shm");
  UniqueFd fd = openFile(path, O_RDWR | O_CREAT, 0644);
  const uint8_t marker[3] = {7, 8, 9};
  pwriteFull(fd.get(), marker, 3, 0, path);  // as left by SQLite's DMS truncation to 3 bytes

  WalIndexFile readOnly(fd.get(), path, /*writable=*/false);
  CHECK(readOnly.block(0) == nullptr);
  CHECK_THROWS_AS(readOnly.extendToBlock(0), Error);
  CHECK_THROWS_AS(readOnly.findFrame(1, 5, 1), Error);  // block 0 does not exist yet

  WalIndexFile index(fd.get(), path, /*writable=*/true);
  uint8_t* b0 = index.extendToBlock(0);
  REQUIRE(b0 != nullptr);
  CHECK(fileSize(fd.get(), path) == 32768);
  CHECK(b0[0] == 7);
  CHECK(b0[2] == 9);
  index.insert(1, 42, 0);
  CHECK(index.findFrame(42, 1, 1) == 1);
  CHECK(index.block(1) == nullptr);
  index.insert(4063, 43, 4062);  // the first frame of block 1 grows the file
  CHECK(fileSize(fd.get(), path) == 65536);
  CHECK(index.findFrame(43, 4063, 1) == 4063);
  CHECK(index.findFrame(42, 4063, 1) == 1);
  CHECK(index.findFrame(42, 4063, 2) == 0);
  CHECK(b0[0] == 7);
  CHECK(index.extendToBlock(3) != nullptr);
  CHECK(fileSize(fd.get(), path) == 4 * 32768);
}

TEST_CASE("corrupt hash tables and bad inserts are reported, never looped on") {
  TempDir dir;
  const std::string path = dir.file("x-shm");
  UniqueFd fd = openFile(path, O_RDWR | O_CREAT, 0644);
  WalIndexFile index(fd.get(), path, /*writable=*/true);
  index.insert(1, 5, 0);
  index.insert(2, 6, 1);
  CHECK_THROWS_AS(index.insert(2, 7, 2), Error);  // frame not after mxFrame
  CHECK_THROWS_AS(index.insert(3, 0, 2), Error);  // page 0
  uint8_t* b = index.block(0);

  SUBCASE("every slot taken") {
    for (uint32_t s = 0; s < kWalIndexHashSlots; ++s) {
      shmStore16(b, kWalIndexHashTableOffset + 2 * s, 1);
    }
    std::string message;
    try {
      index.findFrame(9, 2, 1);
    } catch (const Error& e) {
      message = e.what();
    }
    CHECK(message.find("corrupt wal-index hash table in block 0 of " + path) != std::string::npos);
    CHECK_THROWS_AS(index.insert(3, 9, 2), Error);  // more collisions than entries
  }
  SUBCASE("a slot value beyond the block") {
    shmStore16(b, kWalIndexHashTableOffset + 2 * walIndexHashKey(9), 5000);
    CHECK_THROWS_AS(index.findFrame(9, 2, 1), Error);
  }
  SUBCASE("a published frame in a block that does not exist") {
    CHECK_THROWS_AS(index.findFrame(5, 5000, 1), Error);
    CHECK_THROWS_AS(index.removeFramesAfter(5000), Error);
  }
}
