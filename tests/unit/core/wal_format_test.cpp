#include <doctest/doctest.h>

#include <fcntl.h>

#include <filesystem>

#include "core/byte_order.h"
#include "core/file_util.h"
#include "core/wal_format.h"
#include "core/wal_index.h"
#include "tests/support/sqlite_fixture.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;

namespace {

struct WalWalk {
  WalHeader header;
  size_t frames = 0;
  std::vector<uint32_t> commitSizes;  // nTruncate of each commit frame, in order
  Checksum lastCommitChecksum;
  bool chainOk = true;
};

// Walks every frame of a WAL file that SQLite wrote, recomputing each running checksum from the
// previous one with walChecksum alone (independent of parseWalSegment).
WalWalk walkWal(std::span<const uint8_t> wal) {
  WalWalk w;
  auto h = WalHeader::decode(wal);
  REQUIRE(h.has_value());
  w.header = *h;
  const size_t frameSize = h->pageSize + kWalFrameHeaderSize;
  REQUIRE((wal.size() - kWalHeaderSize) % frameSize == 0);
  Checksum running = h->checksum;
  for (size_t pos = kWalHeaderSize; pos < wal.size(); pos += frameSize) {
    const uint8_t* f = wal.data() + pos;
    WalFrameHeader fh = WalFrameHeader::decode(f);
    CHECK(fh.salt1 == h->salt1);
    CHECK(fh.salt2 == h->salt2);
    CHECK(fh.pageNumber != 0);
    running = walChecksum(f, 8, h->bigEndianChecksum(), running);
    running = walChecksum(f + kWalFrameHeaderSize, h->pageSize, h->bigEndianChecksum(), running);
    if (running != fh.checksum) w.chainOk = false;
    ++w.frames;
    if (fh.isCommit()) {
      w.commitSizes.push_back(fh.commitSize);
      w.lastCommitChecksum = fh.checksum;
    }
  }
  return w;
}

// Rewrites a WAL in place to the other checksum word order: new magic, header checksum and
// every frame's running checksum recomputed.
void rechain(std::vector<uint8_t>& wal, bool bigEndianWords) {
  auto h = WalHeader::decode(wal);
  REQUIRE(h.has_value());
  h->magic = bigEndianWords ? kWalMagic | 1 : kWalMagic;
  auto hb = h->encode();
  std::copy(hb.begin(), hb.end(), wal.begin());
  const size_t frameSize = h->pageSize + kWalFrameHeaderSize;
  Checksum running = h->checksum;
  for (size_t pos = kWalHeaderSize; pos + frameSize <= wal.size(); pos += frameSize) {
    uint8_t* f = wal.data() + pos;
    WalFrameHeader fh = WalFrameHeader::decode(f);
    running = walChecksum(f, 8, bigEndianWords, running);
    running = walChecksum(f + kWalFrameHeaderSize, h->pageSize, bigEndianWords, running);
    fh.checksum = running;
    fh.encode(f);
  }
}

std::string rowValue(int i) {
  return "row-" + std::to_string(i) + "-" + std::string(static_cast<size_t>(50 + i * 37), 'x');
}

// Runs a few transactions of different sizes; returns the page count after each (the CREATE
// TABLE included), which is what each commit frame's nTruncate must hold.
std::vector<uint32_t> writeTransactions(SqliteConnection& db, int transactions) {
  std::vector<uint32_t> pageCounts;
  db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)");
  pageCounts.push_back(static_cast<uint32_t>(db.queryInt("PRAGMA page_count")));
  for (int txn = 0; txn < transactions; ++txn) {
    db.exec("BEGIN");
    for (int i = 0; i < 1 + txn * 7; ++i) {
      SqliteStatement st(db, "INSERT INTO t(v) VALUES(?)");
      st.bind(1, rowValue(txn * 100 + i));
      st.step();
    }
    db.exec("COMMIT");
    pageCounts.push_back(static_cast<uint32_t>(db.queryInt("PRAGMA page_count")));
  }
  return pageCounts;
}

}  // namespace

TEST_CASE("WAL headers and checksum chains written by SQLite decode and verify") {
  for (uint32_t pageSize : {512u, 4096u, 65536u}) {
    CAPTURE(pageSize);
    TempDir dir;
    const std::string path = dir.file("app.db");
    auto db = openWalDatabase(path, {.pageSize = pageSize});
    std::vector<uint32_t> pageCounts = writeTransactions(*db, 5);
    db->exec("UPDATE t SET v = 'changed' WHERE id = 1");
    pageCounts.push_back(static_cast<uint32_t>(db->queryInt("PRAGMA page_count")));

    std::vector<uint8_t> wal = readBytes(path + "-wal");
    REQUIRE(wal.size() > kWalHeaderSize);
    auto h = WalHeader::decode(wal);
    REQUIRE(h.has_value());
    CHECK(h->magic == kWalMagic);  // little-endian host
    CHECK_FALSE(h->bigEndianChecksum());
    CHECK(h->version == kWalVersion);
    CHECK(h->pageSize == pageSize);
    CHECK(h->checksum == Checksum{loadBE32(&wal[24]), loadBE32(&wal[28])});
    CHECK(h->checksum == walChecksum(wal.data(), 24, false, {}));

    WalWalk walk = walkWal(wal);
    CHECK(walk.chainOk);
    CHECK(wal.size() == walFrameOffset(walk.frames + 1, pageSize));
    CHECK(walk.commitSizes == pageCounts);
    // The UPDATE touched one leaf page only: a one-frame transaction at the end.
    const uint64_t lastFrame = walFrameOffset(walk.frames, pageSize);
    WalFrameHeader last = WalFrameHeader::decode(&wal[lastFrame]);
    CHECK(last.isCommit());
    CHECK(last.checksum == walk.lastCommitChecksum);
    WalFrameHeader beforeLast = WalFrameHeader::decode(&wal[lastFrame - pageSize - 24]);
    CHECK(beforeLast.isCommit());
  }
}

TEST_CASE("WAL header and frame header encode/decode round trip, byte-exact on SQLite's bytes") {
  TempDir dir;
  const std::string path = dir.file("app.db");
  auto db = openWalDatabase(path);
  writeTransactions(*db, 2);
  std::vector<uint8_t> wal = readBytes(path + "-wal");

  auto h = WalHeader::decode(wal);
  REQUIRE(h.has_value());
  WalHeader copy = *h;
  copy.checksum = {};
  auto encoded = copy.encode();
  CHECK(copy.checksum == h->checksum);
  CHECK(std::equal(encoded.begin(), encoded.end(), wal.begin()));

  uint8_t frameBytes[kWalFrameHeaderSize];
  WalFrameHeader fh = WalFrameHeader::decode(&wal[kWalHeaderSize]);
  fh.encode(frameBytes);
  CHECK(std::equal(std::begin(frameBytes), std::end(frameBytes), wal.begin() + kWalHeaderSize));

  for (uint32_t magic : {kWalMagic, kWalMagic | 1}) {
    CAPTURE(magic);
    WalHeader made;
    made.magic = magic;
    made.pageSize = 65536;
    made.checkpointSeq = 0xfffffffe;
    made.salt1 = 0x80000001;
    made.salt2 = 0x12345678;
    auto bytes = made.encode();
    CHECK(loadBE32(&bytes[0]) == magic);
    CHECK(loadBE32(&bytes[8]) == 65536);  // the WAL header stores 65536 literally
    auto back = WalHeader::decode(bytes);
    REQUIRE(back.has_value());
    CHECK(back->magic == magic);
    CHECK(back->bigEndianChecksum() == ((magic & 1) != 0));
    CHECK(back->version == kWalVersion);
    CHECK(back->pageSize == 65536);
    CHECK(back->checkpointSeq == 0xfffffffe);
    CHECK(back->salt1 == 0x80000001);
    CHECK(back->salt2 == 0x12345678);
    CHECK(back->checksum == made.checksum);
    CHECK(made.checksum == walChecksum(bytes.data(), 24, (magic & 1) != 0, {}));
  }

  WalFrameHeader f{7, 42, 0xdeadbeef, 0x01020304, {0xa1b2c3d4, 0x00ff00ff}};
  uint8_t buf[kWalFrameHeaderSize];
  f.encode(buf);
  CHECK(loadBE32(buf) == 7);
  CHECK(loadBE32(buf + 4) == 42);
  CHECK(loadBE32(buf + 16) == 0xa1b2c3d4);  // stored checksums are big-endian
  WalFrameHeader g = WalFrameHeader::decode(buf);
  CHECK(g.pageNumber == 7);
  CHECK(g.commitSize == 42);
  CHECK(g.isCommit());
  CHECK(g.salt1 == 0xdeadbeef);
  CHECK(g.salt2 == 0x01020304);
  CHECK(g.checksum == Checksum{0xa1b2c3d4, 0x00ff00ff});
}

TEST_CASE("walChecksum follows SQLite's word order and chaining rules") {
  // Two words, little-endian: s0 = 1 + 0, s1 = 2 + 1.
  const uint8_t le[8] = {1, 0, 0, 0, 2, 0, 0, 0};
  CHECK(walChecksum(le, 8, false, {}) == Checksum{1, 3});
  CHECK(walChecksum(le, 8, true, {}) == Checksum{0x01000000, 0x03000000});
  // Continuing from a seed equals checksumming the concatenation.
  uint8_t data[64];
  for (size_t i = 0; i < sizeof data; ++i) data[i] = static_cast<uint8_t>(i * 29 + 3);
  for (bool big : {false, true}) {
    Checksum whole = walChecksum(data, 64, big, {5, 9});
    Checksum split = walChecksum(data + 24, 40, big, walChecksum(data, 24, big, {5, 9}));
    CHECK(whole == split);
  }
  // Sums wrap modulo 2^32.
  const uint8_t ones[8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  CHECK(walChecksum(ones, 8, false, {1, 0}) == Checksum{0, 0xffffffff});
}

TEST_CASE("invalid WAL headers decode to nullopt") {
  WalHeader good;
  good.pageSize = 4096;
  good.salt1 = 1;
  good.salt2 = 2;
  auto goodBytes = good.encode();
  REQUIRE(WalHeader::decode(goodBytes).has_value());

  SUBCASE("bad magic") {
    WalHeader h = good;
    h.magic = 0x377f0684;
    CHECK_FALSE(WalHeader::decode(h.encode()).has_value());
    h.magic = 0;
    CHECK_FALSE(WalHeader::decode(h.encode()).has_value());
  }
  SUBCASE("page size not a power of two in [512, 65536]") {
    for (uint32_t p : {0u, 1000u, 256u, 131072u, 4097u}) {
      CAPTURE(p);
      WalHeader h = good;
      h.pageSize = p;
      CHECK_FALSE(WalHeader::decode(h.encode()).has_value());
    }
  }
  SUBCASE("bad checksum") {
    for (size_t byte : {0u, 12u, 20u, 24u, 31u}) {
      CAPTURE(byte);
      auto bytes = goodBytes;
      bytes[byte] ^= 0x10;
      CHECK_FALSE(WalHeader::decode(bytes).has_value());
    }
  }
  SUBCASE("short") {
    CHECK_FALSE(WalHeader::decode(std::span(goodBytes).first(31)).has_value());
    CHECK_FALSE(WalHeader::decode({}).has_value());
  }
  SUBCASE("another version is returned as stored, for the caller to reject") {
    WalHeader h = good;
    h.version = 3007001;
    auto d = WalHeader::decode(h.encode());
    REQUIRE(d.has_value());
    CHECK(d->version == 3007001);
  }
}

TEST_CASE("SQLite recovers a WAL rewritten with big-endian checksums and keeps appending to it") {
  TempDir dir;
  const std::string path = dir.file("app.db");
  const uint32_t pageSize = 4096;
  std::vector<std::string> expected;
  {
    auto db = openWalDatabase(path, {.pageSize = pageSize, .keepWalOnClose = true});
    writeTransactions(*db, 4);
    expected = queryRows(*db, "SELECT id, v FROM t ORDER BY id");
  }
  REQUIRE(expected.size() == 1 + 8 + 15 + 22);
  // Nothing was checkpointed: every row lives only in the WAL.
  CHECK(std::filesystem::file_size(path) == pageSize);

  std::vector<uint8_t> wal = readBytes(path + "-wal");
  const WalWalk little = walkWal(wal);
  REQUIRE(little.chainOk);
  rechain(wal, /*bigEndianWords=*/true);
  const WalWalk big = walkWal(wal);
  CHECK(big.header.magic == 0x377f0683);
  CHECK(big.header.bigEndianChecksum());
  CHECK(big.chainOk);
  CHECK(big.frames == little.frames);
  CHECK(big.commitSizes == little.commitSizes);
  CHECK(big.lastCommitChecksum != little.lastCommitChecksum);
  writeBytes(path + "-wal", wal);
  removeAll(path + "-shm");  // force recovery from the WAL file

  // The -shm fd outlives the connection (declared first, destroyed last).
  UniqueFd shmFd;
  auto db = openWalDatabase(path, {.pageSize = pageSize});
  CHECK(queryRows(*db, "SELECT id, v FROM t ORDER BY id") == expected);
  CHECK(db->queryText("PRAGMA integrity_check") == "ok");
  {
    shmFd = openFile(path + "-shm", O_RDONLY);
    ShmMapping shm(shmFd.get(), 0, kShmBlockSize, false, path + "-shm");
    auto ih = readWalIndexHeader(shm.data());
    REQUIRE(ih.has_value());
    CHECK(ih->bigEndianChecksum == 1);
    CHECK(ih->mxFrame == big.frames);
    CHECK(ih->frameChecksum == big.lastCommitChecksum);
  }

  // SQLite keeps the recovered word order for the frames it appends.
  db->exec("INSERT INTO t(v) VALUES('after recovery')");
  std::vector<uint8_t> after = readBytes(path + "-wal");
  const WalWalk appended = walkWal(after);
  CHECK(appended.header.magic == 0x377f0683);
  CHECK(appended.chainOk);
  CHECK(appended.frames > big.frames);
  CHECK(appended.commitSizes.size() == big.commitSizes.size() + 1);
  CHECK(db->queryText("SELECT v FROM t ORDER BY id DESC LIMIT 1") == "after recovery");
}
