// ReplicaApplier on a primary whose WAL uses big-endian checksum words (magic 0x377f0683, as
// SQLite writes on big-endian hosts): after a snapshot taken in the middle of a WAL index, no
// WAL header tells the byte order, and the first segment must still be checked and applied.
//
// The big-endian WAL is made from one SQLite wrote here: the same frames, with the header's
// magic and every checksum recomputed over big-endian words. SQLite itself reads it back.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "client/replica_applier.h"
#include "client/replica_position.h"
#include "core/byte_order.h"
#include "core/error.h"
#include "core/file_util.h"
#include "core/lz4_codec.h"
#include "core/sqlite_conn.h"
#include "core/wal_format.h"
#include "core/wal_segment.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using walstream::test::TempDir;

namespace {

constexpr uint64_t kGeneration = 0x0123456789abcdefULL;
constexpr uint32_t kPageSize = 4096;
constexpr uint64_t kFrameSize = kPageSize + kWalFrameHeaderSize;

// The WAL as SQLite writes it on a big-endian host: the header's magic and checksum, and every
// frame's running checksum, over big-endian words.
std::string toBigEndianWal(const std::string& wal) {
  std::string out = wal;
  auto* p = reinterpret_cast<uint8_t*>(out.data());
  auto header = WalHeader::decode({p, kWalHeaderSize});
  REQUIRE(header);
  REQUIRE_FALSE(header->bigEndianChecksum());
  header->magic = kWalMagic | 1;
  const auto encoded = header->encode();
  std::memcpy(p, encoded.data(), encoded.size());
  Checksum chain = header->checksum;
  REQUIRE((out.size() - kWalHeaderSize) % kFrameSize == 0);
  for (uint64_t off = kWalHeaderSize; off < out.size(); off += kFrameSize) {
    WalFrameHeader f = WalFrameHeader::decode(p + off);
    chain = walChecksum(p + off, 8, /*bigEndianWords=*/true, chain);
    chain = walChecksum(p + off + kWalFrameHeaderSize, kPageSize, true, chain);
    f.checksum = chain;
    f.encode(p + off);
  }
  return out;
}

std::string digestOf(SqliteConnection& c) {
  return c.queryText(
      "SELECT (SELECT n FROM one) || ':' || count(*) || ':' || "
      "group_concat(x || '=' || hex(v), ',') FROM t");
}

std::string digestOf(const std::string& db) {
  SqliteConnection c(db, SQLITE_OPEN_READONLY);
  return digestOf(c);
}

// A primary's database and WAL: an image taken in the middle of WAL index 0 (after `before`),
// then a one-frame transaction, then transactions of several frames each.
struct MidIndexWal {
  std::string base;         // the database file before the WAL's first frame
  std::string image;        // the database at snapshotOffset
  uint64_t snapshotOffset;  // WAL offset of the snapshot
  uint64_t oneFrameEnd;     // WAL offset after the one-frame transaction
  std::string wal;          // the whole WAL, in the byte order asked for
  std::string finalDigest;

  MidIndexWal(const TempDir& dir, bool bigEndian) {
    const std::string path = dir.file("source.db");
    SqliteConnection c(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    c.exec("PRAGMA page_size=4096");
    c.exec("PRAGMA journal_mode=WAL");
    c.exec("PRAGMA wal_autocheckpoint=0");
    base = readFile(path);
    c.exec("CREATE TABLE t(x INTEGER PRIMARY KEY, v BLOB)");
    c.exec("CREATE TABLE one(n INTEGER)");
    c.exec("INSERT INTO one VALUES(0)");
    for (int i = 0; i < 20; ++i) c.exec("INSERT INTO t(v) VALUES(randomblob(900))");
    snapshotOffset = std::filesystem::file_size(path + "-wal");
    {
      // The database at snapshotOffset: a copy of the files, checkpointed.
      const std::string copy = dir.file("image.db");
      std::filesystem::copy_file(path, copy);
      std::filesystem::copy_file(path + "-wal", copy + "-wal");
      SqliteConnection i(copy);
      REQUIRE_FALSE(i.checkpoint(SQLITE_CHECKPOINT_TRUNCATE).busy);
    }
    image = readFile(dir.file("image.db"));
    c.exec("UPDATE one SET n = n + 1");  // changes one page: one commit frame
    oneFrameEnd = std::filesystem::file_size(path + "-wal");
    REQUIRE(oneFrameEnd - snapshotOffset == kFrameSize);
    for (int i = 0; i < 10; ++i) {
      c.exec("BEGIN");
      c.exec("INSERT INTO t(v) VALUES(randomblob(3000))");
      c.exec("UPDATE one SET n = n + 1");
      c.exec("COMMIT");
    }
    finalDigest = digestOf(c);
    wal = readFile(path + "-wal");
    if (bigEndian) wal = toBigEndianWal(wal);
  }

  client::ReceivedSegment segment(uint64_t from, uint64_t to) const {
    const std::string lz4 = lz4Compress(asBytes(wal).subspan(from, to - from));
    return {Pos{kGeneration, 0, from}, std::vector<uint8_t>(lz4.begin(), lz4.end())};
  }
};

void installSnapshot(client::ReplicaApplier& a, const MidIndexWal& w) {
  a.beginSnapshot(Pos{kGeneration, 0, w.snapshotOffset}, kPageSize, w.image.size());
  a.snapshotBytes(asBytes(w.image));
  a.endSnapshot();
}

}  // namespace

TEST_CASE("the crafted big-endian WAL is one SQLite reads") {
  TempDir dir;
  const MidIndexWal w(dir, /*bigEndian=*/true);
  REQUIRE(loadBE32(reinterpret_cast<const uint8_t*>(w.wal.data())) == 0x377f0683);
  WalChainState chain;
  CHECK(parseWalSegment(asBytes(w.wal), 0, chain).frameCount() > 10);
  CHECK(chain.bigEndianChecksum);
  // SQLite's recovery takes every frame: it checks the chain in the magic's byte order.
  const std::string db = dir.file("check.db");
  writeFileAtomic(db, w.base);
  writeFileAtomic(db + "-wal", w.wal);
  CHECK((digestOf(db) == w.finalDigest));
}

TEST_CASE("the first segment after a mid-index snapshot is applied in either byte order") {
  for (const bool bigEndian : {true, false}) {
    CAPTURE(bigEndian);
    TempDir dir;
    const MidIndexWal w(dir, bigEndian);
    const std::string local = dir.file("replica.db");
    client::ReplicaApplier a(local, {});
    installSnapshot(a, w);
    CHECK(a.applySegments({w.segment(w.snapshotOffset, w.wal.size())}) == 11);
    REQUIRE(a.position());
    CHECK(a.position()->pos == Pos{kGeneration, 0, w.wal.size()});
    CHECK(a.position()->chainKnown);
    CHECK(a.position()->orderKnown);
    CHECK(a.position()->chain.bigEndianChecksum == bigEndian);
    CHECK((digestOf(local) == w.finalDigest));
  }
}

TEST_CASE("a one-frame first segment leaves the byte order open until the next segment") {
  for (const bool bigEndian : {true, false}) {
    CAPTURE(bigEndian);
    TempDir dir;
    const MidIndexWal w(dir, bigEndian);
    const std::string local = dir.file("replica.db");
    {
      client::ReplicaApplier a(local, {});
      installSnapshot(a, w);
      CHECK(a.applySegments({w.segment(w.snapshotOffset, w.oneFrameEnd)}) == 1);
      REQUIRE(a.position());
      CHECK(a.position()->chainKnown);  // the frame's checksum, for the primary's resume check
      CHECK_FALSE(a.position()->orderKnown);
    }
    // The open order survives a restart.
    const auto saved = client::loadReplicaPosition(local + "-walstream/position");
    REQUIRE(saved);
    CHECK_FALSE(saved->orderKnown);
    client::ReplicaApplier b(local, {});
    REQUIRE(b.position());
    CHECK(b.applySegments({w.segment(w.oneFrameEnd, w.wal.size())}) == 10);
    CHECK(b.position()->orderKnown);
    CHECK(b.position()->chain.bigEndianChecksum == bigEndian);
    CHECK((digestOf(local) == w.finalDigest));
  }
}

TEST_CASE("a corrupt first segment after a mid-index snapshot is refused in both byte orders") {
  TempDir dir;
  const MidIndexWal w(dir, /*bigEndian=*/true);
  const std::string local = dir.file("replica.db");
  client::ReplicaApplier a(local, {});
  installSnapshot(a, w);
  const std::string before = digestOf(local);
  MidIndexWal bad = w;
  bad.wal[w.oneFrameEnd + kFrameSize + kWalFrameHeaderSize + 100] ^= 1;  // a page byte
  CHECK_THROWS_AS(a.applySegments({bad.segment(w.snapshotOffset, w.wal.size())}), Error);
  CHECK(a.position()->pos == Pos{kGeneration, 0, w.snapshotOffset});
  CHECK((digestOf(local) == before));
}
