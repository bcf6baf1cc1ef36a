// ReplicaApplier when SQLite's write lock on LOCAL_DB stays busy (another connection writes to
// it): the batch is not applied, and the error says what could not be applied, from where, and
// how long the applier waited.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <filesystem>
#include <string>
#include <vector>

#include "client/replica_applier.h"
#include "core/error.h"
#include "core/file_util.h"
#include "core/lz4_codec.h"
#include "core/sqlite_conn.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace std::chrono_literals;
using walstream::test::TempDir;

TEST_CASE("a batch that finds the write lock busy names its positions and the wait") {
  TempDir dir;
  const std::string local = dir.file("replica.db");
  client::ApplierOptions options;
  options.writeLockPatience = 300ms;
  client::ReplicaApplier a(local, options);
  // A source database in WAL mode: its image, then one transaction in its WAL (a segment at
  // offset 0 of index 0, as the primary's stream would carry it).
  const std::string source = dir.file("source.db");
  SqliteConnection src(source, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  src.exec("PRAGMA page_size=4096");
  src.exec("PRAGMA journal_mode=WAL");
  src.exec("PRAGMA wal_autocheckpoint=0");
  src.exec("CREATE TABLE t(x INTEGER PRIMARY KEY, v BLOB)");
  src.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  REQUIRE(std::filesystem::file_size(source + "-wal") == 0);
  const std::string image = readFile(source);
  src.exec("INSERT INTO t(v) VALUES(randomblob(700))");
  const std::string wal = readFile(source + "-wal");

  const Pos at{0x1234, 0, 0};
  a.beginSnapshot(at, 4096, image.size());
  a.snapshotBytes(asBytes(image));
  a.endSnapshot();

  // A local writer holds SQLite's write lock (WAL_WRITE_LOCK) on LOCAL_DB.
  SqliteConnection writer(local, SQLITE_OPEN_READWRITE);
  writer.exec("BEGIN IMMEDIATE");

  std::vector<client::ReceivedSegment> batch(1);
  batch[0].pos = at;
  const std::string lz4 = lz4Compress(asBytes(wal));
  batch[0].lz4.assign(lz4.begin(), lz4.end());
  std::string error;
  try {
    a.applySegments(batch);
  } catch (const Error& e) {
    error = e.what();
  }
  MESSAGE(error);
  const Pos end{at.generation, at.index, wal.size()};
  CHECK(error.find(local + ": cannot apply 1 transaction from the applied position " + at.str() +
                   " to " + end.str()) != std::string::npos);
  CHECK(error.find("stayed busy for ") != std::string::npos);
  CHECK(error.find(" ms (another connection") != std::string::npos);
  REQUIRE(a.position().has_value());
  CHECK(a.position()->pos == at);  // nothing applied
  writer.exec("ROLLBACK");
  CHECK(a.applySegments(batch) == 1);
  CHECK(a.position()->pos == end);
}
