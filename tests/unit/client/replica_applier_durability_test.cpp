// ReplicaApplier after a power failure (the durability invariant in client/replica_applier.h):
// the replica resumes only at exactly the state its saved position describes, else it forgets
// the position (and so fetches a snapshot).
//
// A power failure is modelled by copying what it may leave on the device: LOCAL_DB's file and
// the position file as they are, and of the WAL whatever the case keeps (nothing, or the
// frames of a later apply). The -shm is never copied: after a power failure SQLite rebuilds the
// wal-index from the WAL file.
//
// And when a write or sync of the replica's own files fails (through the file-system seam,
// core/file_system.h): nothing the failure touched is published or believed.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "client/replica_applier.h"
#include "client/replica_position.h"
#include "core/error.h"
#include "core/file_util.h"
#include "core/lz4_codec.h"
#include "core/sqlite_conn.h"
#include "tests/support/faulty_file_system.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using walstream::test::TempDir;

namespace {

constexpr uint64_t kGeneration = 0x0123456789abcdefULL;

// A primary's database in WAL mode, its WAL never checkpointed after the initial image, so that
// the WAL file holds every transaction since, as the primary's stream would carry them.
class Source {
 public:
  explicit Source(const TempDir& dir)
      : path_(dir.file("source.db")), conn_(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) {
    conn_.exec("PRAGMA page_size=4096");
    conn_.exec("PRAGMA journal_mode=WAL");
    conn_.exec("PRAGMA wal_autocheckpoint=0");
    conn_.exec("CREATE TABLE t(x INTEGER PRIMARY KEY, v BLOB)");
    insert(100);
    conn_.exec("PRAGMA wal_checkpoint(TRUNCATE)");
    REQUIRE(std::filesystem::file_size(path_ + "-wal") == 0);
    image_ = readFile(path_);
  }

  const std::string& image() const { return image_; }  // the database before any WAL frame

  // `n` transactions of one row each.
  void insert(int n) {
    for (int i = 0; i < n; ++i) conn_.exec("INSERT INTO t(v) VALUES(randomblob(700))");
  }

  // The WAL bytes from `offset` on, lz4-compressed as a segment at that offset of index 0.
  client::ReceivedSegment segmentFrom(uint64_t offset) const {
    const std::string wal = readFile(path_ + "-wal");
    REQUIRE(wal.size() > offset);
    const std::string lz4 = lz4Compress(asBytes(wal).subspan(offset));
    return {Pos{kGeneration, 0, offset}, std::vector<uint8_t>(lz4.begin(), lz4.end())};
  }
  uint64_t walSize() const { return std::filesystem::file_size(path_ + "-wal"); }

  std::string digest() { return digestOf(conn_); }
  static std::string digestOf(SqliteConnection& c) {
    return c.queryText("SELECT count(*) || ':' || group_concat(x || '=' || hex(v), ',') FROM t");
  }

 private:
  std::string path_;
  SqliteConnection conn_;
  std::string image_;
};

void installSnapshot(client::ReplicaApplier& a, const Source& s) {
  a.beginSnapshot(Pos{kGeneration, 0, 0}, 4096, s.image().size());
  a.snapshotBytes(asBytes(s.image()));
  a.endSnapshot();
}

// The snapshot, then `n` more transactions of `s` applied as one batch.
void installAndApply(client::ReplicaApplier& a, Source& s, int n) {
  installSnapshot(a, s);
  s.insert(n);
  REQUIRE(a.applySegments({s.segmentFrom(0)}) == static_cast<uint64_t>(n));
}

std::string positionPath(const std::string& local) {
  return local + "-walstream/position";
}

client::DbFileStamp stampOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  auto ns = [](const timespec& t) {
    return static_cast<uint64_t>(t.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(t.tv_nsec);
  };
  return {static_cast<uint64_t>(st.st_ino), static_cast<uint64_t>(st.st_size), ns(st.st_mtim),
          ns(st.st_ctim)};
}

// What a power failure leaves when it kept LOCAL_DB's file and `position` (the position file's
// content) and `wal` as LOCAL_DB's WAL file ("" for an empty one). The copy stands for the same
// LOCAL_DB file: a position that recorded the file's stat(2) (with an empty WAL) is given the
// copy's, as if the file had not moved.
std::string afterPowerFailure(const TempDir& dir, const std::string& name, const std::string& local,
                              const std::string& position, const std::string& wal) {
  const std::string copy = dir.file(name);
  REQUIRE(client::parseReplicaPosition(position));
  auto p = *client::parseReplicaPosition(position);
  if (p.local && p.local->dbFile) {
    REQUIRE(*p.local->dbFile == stampOf(local));  // nothing wrote LOCAL_DB's file since
  }
  std::filesystem::copy_file(local, copy);
  if (p.local && p.local->dbFile) p.local->dbFile = stampOf(copy);
  makeDirs(copy + "-walstream");
  writeFileAtomic(positionPath(copy), client::formatReplicaPosition(p));
  writeFileAtomic(copy + "-wal", wal);
  return copy;
}

std::string digestOf(const std::string& db) {
  SqliteConnection c(db, SQLITE_OPEN_READONLY);
  return Source::digestOf(c);
}

std::string integrityOf(const std::string& db) {
  SqliteConnection c(db, SQLITE_OPEN_READONLY);
  return c.queryText("PRAGMA integrity_check");
}

}  // namespace

TEST_CASE("a WAL lost to a power failure after the first install means a snapshot") {
  TempDir dir;
  Source source(dir);
  const std::string local = dir.file("replica.db");
  client::ApplierOptions options;
  options.minCheckpointPages = options.maxCheckpointPages = 1000000;  // no checkpoint
  client::ReplicaApplier a(local, options);
  installAndApply(a, source, 50);
  const auto saved = client::loadReplicaPosition(positionPath(local));
  REQUIRE(saved);
  REQUIRE(saved->local);
  REQUIRE(saved->local->mxFrame > 0);

  SUBCASE("the position reached the device, none of the WAL did") {
    // LOCAL_DB's file is still the snapshot: resuming after its 50 transactions would apply
    // the next ones' pages onto a b-tree that lacks them.
    const std::string copy =
        afterPowerFailure(dir, "lost.db", local, readFile(positionPath(local)), "");
    client::ReplicaApplier b(copy, options);
    CHECK_FALSE(b.position().has_value());
  }
  SUBCASE("the WAL and the position both reached the device") {
    const std::string copy = afterPowerFailure(dir, "kept.db", local, readFile(positionPath(local)),
                                               readFile(local + "-wal"));
    client::ReplicaApplier b(copy, options);
    REQUIRE(b.position().has_value());
    CHECK(b.position()->pos == saved->pos);
    CHECK((digestOf(copy) == source.digest()));
  }
}

TEST_CASE("after a TRUNCATE checkpoint a power failure resumes at exactly the truncated state") {
  TempDir dir;
  Source source(dir);
  const std::string local = dir.file("replica.db");
  client::ApplierOptions options;
  options.minCheckpointPages = 1;  // every apply is followed by a checkpoint that truncates
  options.maxCheckpointPages = 1000000;
  client::ReplicaApplier a(local, options);
  installAndApply(a, source, 50);
  const std::string atTruncation = source.digest();
  REQUIRE(a.maybeCheckpoint());
  REQUIRE(std::filesystem::file_size(local + "-wal") == 0);

  // The flushed position says the WAL is empty: the database file alone is the state at it.
  const std::string truncatedPosition = readFile(positionPath(local));
  const auto saved = client::parseReplicaPosition(truncatedPosition);
  REQUIRE(saved);
  REQUIRE(saved->local);
  CHECK(saved->local->mxFrame == 0);
  CHECK(saved->pos == a.position()->pos);
  {
    const std::string copy = afterPowerFailure(dir, "truncated.db", local, truncatedPosition, "");
    client::ReplicaApplier b(copy, options);
    REQUIRE(b.position().has_value());
    CHECK(b.position()->pos == saved->pos);
    CHECK((digestOf(copy) == atTruncation));
    CHECK(integrityOf(copy) == "ok");
  }

  // The next apply restarts LOCAL_DB's WAL (new salts) without a flush.
  const uint64_t end = source.walSize();
  source.insert(20);
  REQUIRE(a.applySegments({source.segmentFrom(end)}) == 20);
  const std::string restartedWal = readFile(local + "-wal");
  REQUIRE(!restartedWal.empty());
  SUBCASE("the new position reached the device, the restarted WAL did not") {
    const std::string copy =
        afterPowerFailure(dir, "restart-lost.db", local, readFile(positionPath(local)), "");
    client::ReplicaApplier b(copy, options);
    CHECK_FALSE(b.position().has_value());
  }
  SUBCASE("the restarted WAL reached the device, the new position did not") {
    const std::string copy =
        afterPowerFailure(dir, "restart-kept.db", local, truncatedPosition, restartedWal);
    client::ReplicaApplier b(copy, options);
    CHECK_FALSE(b.position().has_value());
  }
  SUBCASE("neither reached the device") {
    const std::string copy = afterPowerFailure(dir, "neither.db", local, truncatedPosition, "");
    client::ReplicaApplier b(copy, options);
    REQUIRE(b.position().has_value());
    CHECK(b.position()->pos == saved->pos);
    CHECK((digestOf(copy) == atTruncation));
  }
  SUBCASE("both reached the device") {
    const std::string copy =
        afterPowerFailure(dir, "both.db", local, readFile(positionPath(local)), restartedWal);
    client::ReplicaApplier b(copy, options);
    REQUIRE(b.position().has_value());
    CHECK(b.position()->pos == a.position()->pos);
    CHECK((digestOf(copy) == source.digest()));
    CHECK(integrityOf(copy) == "ok");
  }
}

TEST_CASE("a position without LOCAL_DB's WAL state is not trusted") {
  TempDir dir;
  Source source(dir);
  const std::string local = dir.file("replica.db");
  {
    client::ReplicaApplier a(local, {});
    installSnapshot(a, source);
  }
  auto p = client::loadReplicaPosition(positionPath(local));
  REQUIRE(p);
  REQUIRE(p->local);
  p->local.reset();  // as older versions wrote it
  writeFileAtomic(positionPath(local), client::formatReplicaPosition(*p));
  client::ReplicaApplier b(local, {});
  CHECK_FALSE(b.position().has_value());
}

TEST_CASE("the first install removes a position left by an earlier LOCAL_DB before the rename") {
  TempDir dir;
  Source source(dir);
  const std::string local = dir.file("replica.db");
  // An earlier LOCAL_DB was removed by the operator; its position (with an empty WAL) stayed.
  client::ReplicaPosition old;
  old.pos = {kGeneration, 7, 0};
  old.chain.pageSize = 4096;
  old.local = client::LocalWalState{};
  makeDirs(local + "-walstream");
  writeFileAtomic(positionPath(local), client::formatReplicaPosition(old));

  client::ReplicaApplier a(local, {});
  a.beginSnapshot(Pos{kGeneration, 0, 0}, 4096, source.image().size());
  a.snapshotBytes(asBytes(source.image()));
  // The received file vanishes before the install: its checks cannot read it, nothing is
  // installed, and the old position is of no use beside no LOCAL_DB.
  std::filesystem::remove(local + ".walstream-snapshot");
  CHECK_THROWS_AS(a.endSnapshot(), Error);
  CHECK_FALSE(pathExists(local));
  client::ReplicaApplier b(local, {});
  CHECK_FALSE(b.position().has_value());
  // A complete install replaces it: removed (durably) before the rename, then written anew.
  b.beginSnapshot(Pos{kGeneration, 0, 0}, 4096, source.image().size());
  b.snapshotBytes(asBytes(source.image()));
  b.endSnapshot();
  const auto saved = client::loadReplicaPosition(positionPath(local));
  REQUIRE(saved);
  CHECK(saved->pos == Pos{kGeneration, 0, 0});
}

TEST_CASE("a local write made while the replica is stopped is seen on start") {
  TempDir dir;
  Source source(dir);
  const std::string local = dir.file("replica.db");
  {
    client::ReplicaApplier a(local, {});
    installAndApply(a, source, 20);
  }
  // The stop emptied the WAL: the database file alone is the state at the saved position.
  const auto saved = client::loadReplicaPosition(positionPath(local));
  REQUIRE(saved);
  REQUIRE(saved->local);
  REQUIRE(saved->local->mxFrame == 0);
  CHECK(saved->local->dbFile);

  SUBCASE("a connection that only reads changes nothing") {
    {
      SqliteConnection c(local);  // read-write, and the last to close: it checkpoints
      CHECK(c.queryInt("SELECT count(*) FROM t") == 120);
    }
    client::ReplicaApplier b(local, {});
    REQUIRE(b.position().has_value());
    CHECK(b.position()->pos == saved->pos);
  }
  SUBCASE("a write checkpointed into the database file") {
    {
      SqliteConnection c(local);
      c.exec("DELETE FROM t WHERE x = 7");
      REQUIRE_FALSE(c.checkpoint(SQLITE_CHECKPOINT_TRUNCATE).busy);
    }
    REQUIRE_FALSE(pathExists(local + "-wal"));  // the last connection to close deleted it
    client::ReplicaApplier b(local, {});
    CHECK_FALSE(b.position().has_value());
  }
  SUBCASE("a write still in the WAL") {
    // Another connection keeps LOCAL_DB open, so the writer's close does not checkpoint.
    SqliteConnection holder(local, SQLITE_OPEN_READONLY);
    CHECK(holder.queryInt("SELECT count(*) FROM t") == 120);
    {
      SqliteConnection c(local);
      c.exec("DELETE FROM t WHERE x = 7");
    }
    REQUIRE(std::filesystem::file_size(local + "-wal") > 0);
    client::ReplicaApplier b(local, {});
    CHECK_FALSE(b.position().has_value());
  }
}

TEST_CASE("a local write no apply has seen is not checkpointed by the clean stop") {
  TempDir dir;
  Source source(dir);
  const std::string local = dir.file("replica.db");
  {
    client::ReplicaApplier a(local, {});
    installAndApply(a, source, 20);
    // Made while the applier runs, after its last apply: the stop is the first to meet it.
    SqliteConnection c(local);
    c.exec("DELETE FROM t WHERE x = 7");
  }
  // Its frames are still in the WAL, which the saved position does not describe: the next start
  // forgets the position (a snapshot) instead of taking the write for the primary's state.
  REQUIRE(std::filesystem::file_size(local + "-wal") > 0);
  client::ReplicaApplier b(local, {});
  CHECK_FALSE(b.position().has_value());
  CHECK(b.startProblem().find("is not where the saved position") != std::string::npos);
}

TEST_CASE("an apply whose write of LOCAL_DB's WAL fails publishes nothing and keeps its position") {
  // Through the file-system seam (core/file_system.h): the appender's write of the batch's frames
  // into LOCAL_DB's WAL fails part way.
  TempDir dir;
  Source source(dir);
  const std::string local = dir.file("replica.db");
  test::FaultyFileSystem fs;
  client::ApplierOptions options;
  options.minCheckpointPages = options.maxCheckpointPages = 1000000;  // no checkpoint
  options.fileSystem = &fs;
  client::ReplicaApplier a(local, options);
  installAndApply(a, source, 30);
  const client::ReplicaPosition before = *a.position();
  const std::string savedBefore = readFile(positionPath(local));
  const std::string contentBefore = source.digest();
  const uint64_t end = source.walSize();
  source.insert(40);
  const client::ReceivedSegment segment = source.segmentFrom(end);

  test::Fault fault;
  fault.op = test::FsOp::kWrite;
  fault.pathContains = local + "-wal";
  fault.shortWriteBytes = 5000;  // a few frames, then the failure
  fs.addFault(fault);
  CHECK_THROWS_WITH_AS(a.applySegments({segment}), doctest::Contains(std::strerror(EIO)), Error);
  REQUIRE(fs.injected() == 1);
  // Reported, and nothing else: readers see the previous state, the position is where it was.
  CHECK(a.position()->pos == before.pos);
  CHECK(readFile(positionPath(local)) == savedBefore);
  CHECK((digestOf(local) == contentBefore));
  {
    // Had the replica died now, it would resume at that position: LOCAL_DB's WAL, rebuilt from
    // the file (the partial frames lead to no commit), is still the one the position describes.
    const std::string copy =
        afterPowerFailure(dir, "crashed.db", local, savedBefore, readFile(local + "-wal"));
    client::ReplicaApplier b(copy, {});
    REQUIRE(b.position().has_value());
    CHECK(b.position()->pos == before.pos);
    CHECK((digestOf(copy) == contentBefore));
  }
  // The same segment applied again converges.
  fs.clearFaults();
  CHECK(a.applySegments({segment}) == 40);
  CHECK(a.position()->pos == Pos{kGeneration, 0, source.walSize()});
  CHECK((digestOf(local) == source.digest()));
  CHECK(integrityOf(local) == "ok");
  const std::string copy = afterPowerFailure(dir, "after.db", local, readFile(positionPath(local)),
                                             readFile(local + "-wal"));
  client::ReplicaApplier b(copy, {});
  REQUIRE(b.position().has_value());
  CHECK(b.position()->pos == a.position()->pos);
  CHECK((digestOf(copy) == source.digest()));
}

TEST_CASE("a failed rewrite of the position file never lets the replica resume at a wrong state") {
  // The apply is published, then the in-place rewrite of the position record fails part way: the
  // error is reported, the transaction stays applied, and the torn record is not believed.
  TempDir dir;
  Source source(dir);
  const std::string local = dir.file("replica.db");
  test::FaultyFileSystem fs;
  client::ApplierOptions options;
  options.minCheckpointPages = options.maxCheckpointPages = 1000000;  // no checkpoint
  options.fileSystem = &fs;
  client::ReplicaApplier a(local, options);
  installAndApply(a, source, 30);
  uint64_t end = source.walSize();
  source.insert(40);

  test::Fault fault;
  fault.op = test::FsOp::kWrite;
  fault.pathContains = positionPath(local);
  fault.shortWriteBytes = 60;  // the new position, then the old record's rest: torn
  fs.addFault(fault);
  CHECK_THROWS_WITH_AS(a.applySegments({source.segmentFrom(end)}),
                       doctest::Contains(std::strerror(EIO)), Error);
  REQUIRE(fs.injected() == 1);
  CHECK((digestOf(local) == source.digest()));                        // applied: readers see it
  CHECK(a.position()->pos == Pos{kGeneration, 0, source.walSize()});  // and it goes on from there
  {
    // A crash now: the torn record fails its sum, so the replica fetches a snapshot.
    const std::string torn = readFile(positionPath(local));
    CHECK_FALSE(client::parseReplicaPosition(torn).has_value());
    const std::string copy = dir.file("torn.db");
    std::filesystem::copy_file(local, copy);
    makeDirs(copy + "-walstream");
    writeFileAtomic(positionPath(copy), torn);
    writeFileAtomic(copy + "-wal", readFile(local + "-wal"));
    client::ReplicaApplier b(copy, {});
    CHECK_FALSE(b.position().has_value());
  }
  // The next apply writes a whole record again, which a restart resumes at.
  fs.clearFaults();
  end = source.walSize();
  source.insert(5);
  CHECK(a.applySegments({source.segmentFrom(end)}) == 5);
  const std::string copy = afterPowerFailure(dir, "after.db", local, readFile(positionPath(local)),
                                             readFile(local + "-wal"));
  client::ReplicaApplier b(copy, {});
  REQUIRE(b.position().has_value());
  CHECK(b.position()->pos == a.position()->pos);
  CHECK((digestOf(copy) == source.digest()));
}

TEST_CASE("a snapshot whose received file cannot be written leaves no file and changes nothing") {
  TempDir dir;
  Source source(dir);
  const std::string local = dir.file("replica.db");
  test::FaultyFileSystem fs;
  client::ApplierOptions options;
  options.fileSystem = &fs;
  client::ReplicaApplier a(local, options);
  installAndApply(a, source, 20);
  const client::ReplicaPosition before = *a.position();
  const std::string contentBefore = source.digest();

  // A snapshot into the existing LOCAL_DB; the disk fills while it is received.
  test::Fault fault;
  fault.op = test::FsOp::kWrite;
  fault.pathContains = ".walstream-snapshot";
  fault.error = ENOSPC;
  fault.shortWriteBytes = 1000;
  fs.addFault(fault);
  a.beginSnapshot(Pos{kGeneration, 0, 0}, 4096, source.image().size());
  CHECK_THROWS_WITH_AS(a.snapshotBytes(asBytes(source.image())),
                       doctest::Contains(std::strerror(ENOSPC)), Error);
  CHECK_FALSE(pathExists(local + ".walstream-snapshot"));
  CHECK(a.position()->pos == before.pos);
  CHECK((digestOf(local) == contentBefore));

  // Its fsync fails (a full disk may show only then): nothing is installed, nothing is left.
  fs.clearFaults();
  fault.op = test::FsOp::kSync;
  fault.error = EIO;
  fault.shortWriteBytes = 0;
  fs.addFault(fault);
  a.beginSnapshot(Pos{kGeneration, 0, 0}, 4096, source.image().size());
  a.snapshotBytes(asBytes(source.image()));
  CHECK_THROWS_WITH_AS(a.endSnapshot(), doctest::Contains(std::strerror(EIO)), Error);
  CHECK_FALSE(pathExists(local + ".walstream-snapshot"));
  CHECK(a.position()->pos == before.pos);
  CHECK((digestOf(local) == contentBefore));

  // The next one installs (the image: the source before its WAL).
  fs.clearFaults();
  installSnapshot(a, source);
  CHECK_FALSE(pathExists(local + ".walstream-snapshot"));
  CHECK(a.position()->pos == Pos{kGeneration, 0, 0});
  CHECK(integrityOf(local) == "ok");
}

TEST_CASE("a flushed position is found after a power failure, the names above it included") {
  // shadow-wal.md §6.4: a position flushed before a checkpoint, or at a clean stop, survives a
  // power failure. In FaultyFileSystem's model that takes the names of the position file and of
  // its directory to be durable too, not only the record's bytes.
  TempDir dir;
  Source source(dir);
  const std::string local = dir.file("replica.db");
  test::FaultyFileSystem fs;
  client::ApplierOptions options;
  options.maxCheckpointPages = 1000000;
  options.fileSystem = &fs;
  auto notDurable = [&] {
    std::string names;
    for (const std::string& p : fs.notDurable(local + "-walstream", dir.path())) names += " " + p;
    return names;
  };
  SUBCASE("flushed before a checkpoint") {
    options.minCheckpointPages = 1;
    client::ReplicaApplier a(local, options);
    installAndApply(a, source, 20);
    REQUIRE(a.maybeCheckpoint());
    CHECK(notDurable() == "");
  }
  SUBCASE("flushed at a clean stop") {
    options.minCheckpointPages = 1000000;
    {
      client::ReplicaApplier a(local, options);
      installAndApply(a, source, 20);
    }
    CHECK(notDurable() == "");
  }
}
