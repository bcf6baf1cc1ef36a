// ReplicaApplier's snapshot receipt: a snapshot that ends short, runs long, is not a database
// image or cannot be moved into place is refused, and leaves neither LOCAL_DB nor the received
// file behind.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "client/replica_applier.h"
#include "core/error.h"
#include "core/file_util.h"
#include "core/sqlite_conn.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using walstream::test::TempDir;

namespace {

// A WAL-mode database image of a few MiB (more than one writeback window).
std::string walModeImage(const TempDir& dir) {
  const std::string path = dir.file("source.db");
  {
    SqliteConnection c(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    c.exec("PRAGMA page_size=4096");
    c.exec("PRAGMA journal_mode=WAL");
    c.exec("CREATE TABLE t(x BLOB)");
    c.exec(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000) "
        "INSERT INTO t SELECT randomblob(1000) FROM n");
    c.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  return readFile(path);
}

// A small WAL-mode database image (one table, a few rows) of `pageSize`.
std::string smallImage(const TempDir& dir, uint32_t pageSize) {
  const std::string path = dir.file("small-" + std::to_string(pageSize) + ".db");
  {
    SqliteConnection c(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    c.exec("PRAGMA page_size=" + std::to_string(pageSize));
    c.exec("PRAGMA journal_mode=WAL");
    c.exec("CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT)");
    c.exec("INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')");
    c.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  return readFile(path);
}

void feed(client::ReplicaApplier& a, const std::string& bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  for (size_t off = 0; off < bytes.size(); off += 100000) {
    a.snapshotBytes({p + off, std::min<size_t>(100000, bytes.size() - off)});
  }
}

}  // namespace

TEST_CASE("a received snapshot is installed only when complete") {
  TempDir dir;
  const std::string image = walModeImage(dir);
  REQUIRE(image.size() > (16u << 20));
  const std::string local = dir.file("replica.db");
  const Pos pos{0x1234, 0, 0};

  SUBCASE("truncated") {
    client::ReplicaApplier a(local, {});
    a.beginSnapshot(pos, 4096, image.size());
    feed(a, image.substr(0, image.size() - 4096));
    CHECK_THROWS_AS(a.endSnapshot(), Error);
    a.abortSnapshot();
    CHECK_FALSE(pathExists(local));
    CHECK_FALSE(pathExists(local + ".walstream-snapshot"));
    CHECK_FALSE(a.position().has_value());
  }
  SUBCASE("longer than announced") {
    client::ReplicaApplier a(local, {});
    a.beginSnapshot(pos, 4096, image.size() - 4096);
    CHECK_THROWS_AS(feed(a, image), Error);
    a.abortSnapshot();
    CHECK_FALSE(pathExists(local));
    CHECK_FALSE(pathExists(local + ".walstream-snapshot"));
  }
  SUBCASE("not a database image") {
    client::ReplicaApplier a(local, {});
    a.beginSnapshot(pos, 4096, image.size());
    feed(a, std::string(image.size(), 'x'));
    CHECK_THROWS_AS(a.endSnapshot(), Error);
    CHECK_FALSE(pathExists(local));
    CHECK_FALSE(pathExists(local + ".walstream-snapshot"));
  }
  SUBCASE("complete") {
    client::ReplicaApplier a(local, {});
    a.beginSnapshot(pos, 4096, image.size());
    feed(a, image);
    a.endSnapshot();
    CHECK(readFile(local) == image);
    CHECK_FALSE(pathExists(local + ".walstream-snapshot"));
    REQUIRE(a.position().has_value());
    CHECK(a.position()->pos == pos);
    SqliteConnection check(local, SQLITE_OPEN_READONLY);
    CHECK(check.queryInt("SELECT count(*) FROM t") == 20000);
  }
}

TEST_CASE("a snapshot whose rename into place fails leaves no received file") {
  TempDir dir;
  const std::string local = dir.file("replica.db");
  const std::string snapshot = local + ".walstream-snapshot";
  client::ReplicaApplier a(local, {});
  const std::string first = smallImage(dir, 4096);
  a.beginSnapshot({0x1234, 0, 0}, 4096, first.size());
  feed(a, first);
  a.endSnapshot();
  REQUIRE(pathExists(local));

  // A directory takes LOCAL_DB's name; then a snapshot of another page size arrives, which
  // replaces LOCAL_DB by a rename: the rename fails (EISDIR).
  REQUIRE(::unlink(local.c_str()) == 0);
  REQUIRE(::mkdir(local.c_str(), 0755) == 0);
  const std::string second = smallImage(dir, 8192);
  a.beginSnapshot({0x5678, 0, 0}, 8192, second.size());
  feed(a, second);
  REQUIRE(pathExists(snapshot));
  std::string error;
  try {
    a.endSnapshot();
  } catch (const Error& e) {
    error = e.what();
  }
  CHECK(error.find("cannot move the snapshot into place") != std::string::npos);
  // Nothing is left for later free-space checks to count, even before the caller aborts.
  CHECK_FALSE(pathExists(snapshot));
  a.abortSnapshot();
  CHECK_FALSE(pathExists(snapshot));
}
