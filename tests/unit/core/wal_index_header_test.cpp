#include <doctest/doctest.h>

#include <fcntl.h>
#include <sqlite3.h>

#include <cstring>

#include "core/byte_order.h"
#include "core/file_util.h"
#include "core/wal_index.h"
#include "tests/support/sqlite_fixture.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;

namespace {

// The header region of block 0 (both copies and WalCkptInfo), copied out of the live mapping so
// tests can damage it without touching SQLite's shared memory. Aligned as a mapping is.
struct alignas(8) HeaderRegion {
  uint8_t bytes[136];
};

HeaderRegion copyRegion(const ShmMapping& shm) {
  HeaderRegion r;
  std::memcpy(r.bytes, shm.data(), sizeof r.bytes);
  return r;
}

struct WalFacts {
  uint32_t frames = 0;
  Checksum lastCommitChecksum;
  uint32_t lastCommitSize = 0;
  std::array<uint8_t, 8> salt{};
  WalHeader header;
};

WalFacts walFacts(const std::string& walPath) {
  std::vector<uint8_t> wal = readBytes(walPath);
  auto h = WalHeader::decode(wal);
  REQUIRE(h.has_value());
  WalFacts f;
  f.header = *h;
  const size_t frameSize = h->pageSize + kWalFrameHeaderSize;
  for (size_t pos = kWalHeaderSize; pos + frameSize <= wal.size(); pos += frameSize) {
    WalFrameHeader fh = WalFrameHeader::decode(&wal[pos]);
    ++f.frames;
    if (fh.isCommit()) {
      f.lastCommitChecksum = fh.checksum;
      f.lastCommitSize = fh.commitSize;
    }
  }
  std::copy(wal.begin() + 16, wal.begin() + 24, f.salt.begin());
  return f;
}

void insertRows(SqliteConnection& db, int transactions) {
  for (int i = 0; i < transactions; ++i) {
    db.exec("INSERT INTO t(v) VALUES(randomblob(" + std::to_string(300 + 2000 * i) + "))");
  }
}

}  // namespace

TEST_CASE("the wal-index header SQLite publishes in a live -shm decodes to the WAL's facts") {
  for (uint32_t pageSize : {512u, 4096u, 65536u}) {
    CAPTURE(pageSize);
    TempDir dir;
    const std::string path = dir.file("app.db");
    // Declared before the connection so it is closed after it (docs/sqlite-wal.md §4.5).
    UniqueFd shmFd;
    auto db = openWalDatabase(path, {.pageSize = pageSize});
    db->exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
    insertRows(*db, 6);

    shmFd = openFile(path + "-shm", O_RDONLY);
    ShmMapping shm(shmFd.get(), 0, kShmBlockSize, /*writable=*/false, path + "-shm");
    auto h = readWalIndexHeader(shm.data());
    REQUIRE(h.has_value());
    WalFacts wal = walFacts(path + "-wal");
    CHECK(h->version == kWalVersion);
    CHECK(h->isInit == 1);
    CHECK(h->bigEndianChecksum == 0);
    CHECK(h->pageSize() == pageSize);
    CHECK(h->pageSizeCode == (pageSize == 65536 ? 1 : pageSize));
    CHECK(h->mxFrame == wal.frames);
    CHECK(h->nPage == wal.lastCommitSize);
    CHECK(h->nPage == db->queryInt("PRAGMA page_count"));
    CHECK(h->frameChecksum == wal.lastCommitChecksum);
    CHECK(h->salt == wal.salt);
    CHECK(h->salt1() == wal.header.salt1);
    CHECK(h->salt2() == wal.header.salt2);
    CHECK(shmBackfill(shm.data()) == 0);  // nothing checkpointed (wal_autocheckpoint=0)
    CHECK(shmReadMark(shm.data(), 0) == 0);

    // Byte-exact: re-encoding the decoded header reproduces SQLite's 48 bytes, and copy 0 alone
    // decodes to the same header.
    HeaderRegion region = copyRegion(shm);
    WalIndexHeader again = *h;
    auto encoded = again.encode();
    CHECK(std::memcmp(encoded.data(), region.bytes, kWalIndexHeaderSize) == 0);
    CHECK(WalIndexHeader::decode(region.bytes) == h);

    // A commit bumps iChange by one and moves mxFrame to the new last commit frame.
    insertRows(*db, 1);
    auto after = readWalIndexHeader(shm.data());
    REQUIRE(after.has_value());
    WalFacts wal2 = walFacts(path + "-wal");
    CHECK(after->change == h->change + 1);
    CHECK(after->mxFrame == wal2.frames);
    CHECK(after->mxFrame > h->mxFrame);
    CHECK(after->frameChecksum == wal2.lastCommitChecksum);
    CHECK(after->salt == h->salt);

    // A PASSIVE checkpoint with no readers backfills every frame.
    CheckpointResult cp = db->checkpoint(SQLITE_CHECKPOINT_PASSIVE);
    CHECK_FALSE(cp.busy);
    CHECK(shmBackfill(shm.data()) == after->mxFrame);
    db.reset();  // the connection closes before shmFd
  }
}

TEST_CASE("a header whose two copies differ is rejected") {
  TempDir dir;
  const std::string path = dir.file("app.db");
  UniqueFd shmFd;
  auto db = openWalDatabase(path);
  db->exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
  insertRows(*db, 3);
  shmFd = openFile(path + "-shm", O_RDONLY);
  ShmMapping shm(shmFd.get(), 0, kShmBlockSize, false, path + "-shm");
  HeaderRegion region = copyRegion(shm);
  auto good = readWalIndexHeader(region.bytes);
  REQUIRE(good.has_value());

  SUBCASE("copy 1 is another valid header (a writer is mid-publish)") {
    WalIndexHeader newer = *good;
    newer.mxFrame += 1;
    newer.change += 1;
    auto bytes = newer.encode();
    std::memcpy(region.bytes + kWalIndexHeaderSize, bytes.data(), bytes.size());
    REQUIRE(WalIndexHeader::decode(region.bytes + kWalIndexHeaderSize).has_value());
    CHECK_FALSE(readWalIndexHeader(region.bytes).has_value());
  }
  SUBCASE("copy 0 is another valid header") {
    WalIndexHeader newer = *good;
    newer.nPage += 1;
    auto bytes = newer.encode();
    std::memcpy(region.bytes, bytes.data(), bytes.size());
    CHECK_FALSE(readWalIndexHeader(region.bytes).has_value());
  }
  SUBCASE("one byte differs") {
    region.bytes[kWalIndexHeaderSize + 33] ^= 1;
    CHECK_FALSE(readWalIndexHeader(region.bytes).has_value());
  }
  SUBCASE("both copies equal but the checksum is wrong") {
    region.bytes[20] ^= 1;
    region.bytes[kWalIndexHeaderSize + 20] ^= 1;
    CHECK_FALSE(readWalIndexHeader(region.bytes).has_value());
  }
  SUBCASE("both copies equal but isInit is 0") {
    WalIndexHeader zero = *good;
    zero.isInit = 0;
    auto bytes = zero.encode();
    std::memcpy(region.bytes, bytes.data(), bytes.size());
    std::memcpy(region.bytes + kWalIndexHeaderSize, bytes.data(), bytes.size());
    CHECK_FALSE(readWalIndexHeader(region.bytes).has_value());
  }
  // The live header is untouched by all of this.
  CHECK(readWalIndexHeader(shm.data()) == good);
  db.reset();
}

TEST_CASE("wal-index header encode/decode round trip and page size codes") {
  WalIndexHeader h;
  h.change = 77;
  h.isInit = 1;
  h.bigEndianChecksum = 1;
  h.setPageSize(65536);
  CHECK(h.pageSizeCode == 1);
  CHECK(h.pageSize() == 65536);
  h.mxFrame = 4063;
  h.nPage = 12345;
  h.frameChecksum = {0xdeadbeef, 0x01234567};
  h.salt = {0x80, 1, 2, 3, 4, 5, 6, 0xff};
  auto bytes = h.encode();
  CHECK(h.checksum == walChecksum(bytes.data(), 40, false, {}));
  // Host (little-endian) order, except the raw salt bytes.
  CHECK(loadLE32(&bytes[0]) == kWalVersion);
  CHECK(loadLE32(&bytes[8]) == 77);
  CHECK(bytes[12] == 1);
  CHECK(bytes[13] == 1);
  CHECK(bytes[14] == 1);
  CHECK(bytes[15] == 0);
  CHECK(loadLE32(&bytes[16]) == 4063);
  CHECK(loadLE32(&bytes[20]) == 12345);
  CHECK(loadLE32(&bytes[24]) == 0xdeadbeef);
  CHECK(std::memcmp(&bytes[32], h.salt.data(), 8) == 0);
  CHECK(h.salt1() == 0x80010203);
  CHECK(h.salt2() == 0x040506ff);
  CHECK(loadLE32(&bytes[40]) == h.checksum.s0);
  auto back = WalIndexHeader::decode(bytes.data());
  REQUIRE(back.has_value());
  CHECK(*back == h);

  for (uint32_t p = 512; p <= 65536; p *= 2) {
    CAPTURE(p);
    WalIndexHeader x;
    x.setPageSize(p);
    CHECK(x.pageSize() == p);
    CHECK(x.pageSizeCode == (p == 65536 ? 1 : p));
  }

  // Any damaged byte of the 48 is caught (isInit and the checksum-covered fields).
  for (size_t i = 0; i < kWalIndexHeaderSize; ++i) {
    CAPTURE(i);
    auto damaged = bytes;
    damaged[i] ^= 0x04;
    CHECK_FALSE(WalIndexHeader::decode(damaged.data()).has_value());
  }
  WalIndexHeader notInit = h;
  notInit.isInit = 0;
  CHECK_FALSE(WalIndexHeader::decode(notInit.encode().data()).has_value());
}

TEST_CASE("publishWalIndexHeader writes two identical copies that readWalIndexHeader accepts") {
  HeaderRegion region{};
  CHECK_FALSE(readWalIndexHeader(region.bytes).has_value());  // zeroed: isInit 0
  WalIndexHeader h;
  h.version = 1;  // publishing sets the version and isInit
  h.setPageSize(4096);
  h.mxFrame = 9;
  h.nPage = 3;
  h.salt = {1, 2, 3, 4, 5, 6, 7, 8};
  publishWalIndexHeader(region.bytes, h);
  CHECK(std::memcmp(region.bytes, region.bytes + kWalIndexHeaderSize, kWalIndexHeaderSize) == 0);
  auto read = readWalIndexHeader(region.bytes);
  REQUIRE(read.has_value());
  CHECK(read->version == kWalVersion);
  CHECK(read->isInit == 1);
  CHECK(read->mxFrame == 9);
  CHECK(read->nPage == 3);
  CHECK(read->pageSize() == 4096);
  CHECK(read->salt == h.salt);
  // WalCkptInfo is not touched.
  for (size_t i = 2 * kWalIndexHeaderSize; i < sizeof region.bytes; ++i) {
    CHECK(region.bytes[i] == 0);
  }
  shmStore32(region.bytes, 96, 9);
  CHECK(shmBackfill(region.bytes) == 9);
  shmStore32(region.bytes, 100 + 4 * 2, kReadMarkUnused);
  CHECK(shmReadMark(region.bytes, 2) == kReadMarkUnused);
  shmStore16(region.bytes, 14, 0x200);
  CHECK(shmLoad16(region.bytes, 14) == 0x200);
}
