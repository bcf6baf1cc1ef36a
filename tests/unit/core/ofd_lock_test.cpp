#include <doctest/doctest.h>
#include <fcntl.h>
#include <sqlite3.h>

#include <chrono>
#include <future>
#include <string>
#include <thread>

#include "core/error.h"
#include "core/file_util.h"
#include "core/ofd_lock.h"
#include "core/sqlite_conn.h"
#include "core/wal_index.h"
#include "tests/support/sqlite_fixture.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

UniqueFd makeFile(const std::string& path) {
  UniqueFd fd = openFile(path, O_RDWR | O_CREAT, 0644);
  const char data[256] = {};
  pwriteFull(fd.get(), data, sizeof data, 0, path);
  return fd;
}

bool lockedBy(int fd, off_t start, off_t length, LockMode mode, LockMode expectedHolder) {
  return OfdLock::conflictingLock(fd, start, length, mode, "test file") == expectedHolder;
}

// SQLite's BEGIN IMMEDIATE takes WAL_WRITE_LOCK; true when it got it (then rolled back).
bool sqliteCanTakeWriteLock(SqliteConnection& conn) {
  try {
    conn.exec("BEGIN IMMEDIATE");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("locked") != std::string::npos);
    return false;
  }
  conn.exec("ROLLBACK");
  return true;
}

}  // namespace

TEST_CASE("OFD locks follow shared/exclusive rules between open file descriptions") {
  TempDir dir;
  const std::string path = dir.file("f");
  UniqueFd a = makeFile(path);
  UniqueFd b = openFile(path, O_RDWR);

  OfdLock sharedA = OfdLock::tryAcquire(a.get(), 10, 5, LockMode::Shared, path);
  REQUIRE(sharedA.held());
  CHECK(sharedA.mode() == LockMode::Shared);
  CHECK(sharedA.start() == 10);
  CHECK(sharedA.length() == 5);
  {
    OfdLock sharedB = OfdLock::tryAcquire(b.get(), 12, 1, LockMode::Shared, path);
    CHECK(sharedB.held());
    // Exclusive is refused while any other description shares the range.
    CHECK_FALSE(OfdLock::tryAcquire(b.get(), 14, 4, LockMode::Exclusive, "").held());
    CHECK(lockedBy(b.get(), 14, 4, LockMode::Exclusive, LockMode::Shared));
  }  // sharedB released here
  CHECK_FALSE(OfdLock::tryAcquire(b.get(), 10, 1, LockMode::Exclusive, path).held());
  // Bytes next to the range are free.
  CHECK(OfdLock::tryAcquire(b.get(), 15, 1, LockMode::Exclusive, path).held());
  CHECK(OfdLock::conflictingLock(b.get(), 15, 10, LockMode::Exclusive, path) == std::nullopt);

  sharedA.release();
  CHECK_FALSE(sharedA.held());
  OfdLock exclusiveB = OfdLock::tryAcquire(b.get(), 10, 5, LockMode::Exclusive, path);
  REQUIRE(exclusiveB.held());
  CHECK(lockedBy(a.get(), 11, 1, LockMode::Shared, LockMode::Exclusive));
  CHECK_FALSE(OfdLock::tryAcquire(a.get(), 11, 1, LockMode::Shared, path).held());

  // Moving transfers ownership; the moved-to lock releases on destruction.
  OfdLock moved = std::move(exclusiveB);
  CHECK_FALSE(exclusiveB.held());  // NOLINT(bugprone-use-after-move): checking the moved-from
  CHECK(moved.held());
  OfdLock other = OfdLock::tryAcquire(b.get(), 100, 1, LockMode::Exclusive, path);
  moved = std::move(other);  // releases [10, +5) first
  CHECK(OfdLock::tryAcquire(a.get(), 10, 5, LockMode::Shared, path).held());
  CHECK(lockedBy(a.get(), 100, 1, LockMode::Shared, LockMode::Exclusive));
  moved = OfdLock();
  CHECK(OfdLock::conflictingLock(a.get(), 0, 256, LockMode::Exclusive, path) == std::nullopt);
}

TEST_CASE("an OFD lock survives the closing of other descriptors on the same file") {
  TempDir dir;
  const std::string path = dir.file("f");
  UniqueFd a = makeFile(path);
  OfdLock lock = OfdLock::tryAcquire(a.get(), 0, 1, LockMode::Exclusive, path);
  REQUIRE(lock.held());
  {
    UniqueFd unrelated = openFile(path, O_RDWR);
    UniqueFd duplicate(::dup(a.get()));
    REQUIRE(duplicate.valid());
  }  // both closed
  UniqueFd b = openFile(path, O_RDWR);
  CHECK(lockedBy(b.get(), 0, 1, LockMode::Shared, LockMode::Exclusive));
  CHECK_FALSE(OfdLock::tryAcquire(b.get(), 0, 1, LockMode::Shared, path).held());
}

TEST_CASE("OFD locks conflict with SQLite's own locks in the same process") {
  TempDir dir;
  const std::string path = dir.file("app.db");
  UniqueFd shm;  // declared first: closed only after every connection (docs/sqlite-wal.md §4.5)
  auto writer = openWalDatabase(path);
  writer->exec("CREATE TABLE t(x)");
  writer->exec("INSERT INTO t VALUES(1)");
  SqliteConnection other(path);
  CHECK(other.queryInt("SELECT count(*) FROM t") == 1);
  shm = openFile(path + "-shm", O_RDWR);

  // SQLite holds DMS shared; our query sees it through F_OFD_GETLK.
  CHECK(lockedBy(shm.get(), kShmDmsLock, 1, LockMode::Exclusive, LockMode::Shared));

  SUBCASE("our WAL_WRITE_LOCK makes SQLite's writers and TRUNCATE checkpoints busy") {
    OfdLock write = OfdLock::tryAcquire(shm.get(), kShmWriteLock, 1, LockMode::Exclusive, path);
    REQUIRE(write.held());
    CHECK_FALSE(sqliteCanTakeWriteLock(other));
    CHECK(other.checkpoint(SQLITE_CHECKPOINT_TRUNCATE).busy);
    CHECK(other.queryInt("SELECT count(*) FROM t") == 1);  // readers are not affected
    write.release();
    CHECK(sqliteCanTakeWriteLock(other));
    CHECK_FALSE(other.checkpoint(SQLITE_CHECKPOINT_TRUNCATE).busy);
  }

  SUBCASE("SQLite's WAL_WRITE_LOCK refuses ours, also within a bounded wait") {
    other.exec("BEGIN IMMEDIATE");
    CHECK(lockedBy(shm.get(), kShmWriteLock, 1, LockMode::Exclusive, LockMode::Exclusive));
    CHECK_FALSE(OfdLock::tryAcquire(shm.get(), kShmWriteLock, 1, LockMode::Exclusive, path).held());
    const auto start = std::chrono::steady_clock::now();
    OfdLock waited =
        OfdLock::acquireWithin(shm.get(), kShmWriteLock, 1, LockMode::Exclusive, 60ms, path);
    CHECK_FALSE(waited.held());
    CHECK(std::chrono::steady_clock::now() - start >= 60ms);
    other.exec("COMMIT");
    CHECK(OfdLock::tryAcquire(shm.get(), kShmWriteLock, 1, LockMode::Exclusive, path).held());
  }

  SUBCASE("a SQLite read transaction's read lock excludes our exclusive lock on its slot") {
    other.exec("BEGIN");
    CHECK(other.queryInt("SELECT count(*) FROM t") == 1);
    // The reader holds one of READ_LOCK(0..4) shared.
    CHECK(lockedBy(shm.get(), kShmReadLock0, 5, LockMode::Exclusive, LockMode::Shared));
    CHECK_FALSE(OfdLock::tryAcquire(shm.get(), kShmReadLock0, 5, LockMode::Exclusive, path).held());
    other.exec("COMMIT");
    CHECK(OfdLock::tryAcquire(shm.get(), kShmReadLock0, 5, LockMode::Exclusive, path).held());
  }
}

TEST_CASE("waiting for an OFD lock ends when the holder lets go") {
  TempDir dir;
  const std::string path = dir.file("f");
  UniqueFd a = makeFile(path);
  UniqueFd b = openFile(path, O_RDWR);

  for (bool blocking : {false, true}) {
    CAPTURE(blocking);
    OfdLock held = OfdLock::tryAcquire(a.get(), 5, 1, LockMode::Exclusive, path);
    REQUIRE(held.held());
    std::promise<void> waiting;
    auto releaser = std::async(std::launch::async, [&] {
      waiting.get_future().wait();
      // Let the waiter reach its wait; correctness does not depend on how long this is.
      std::this_thread::sleep_for(30ms);
      held.release();
    });
    waiting.set_value();
    OfdLock got = blocking ? OfdLock::acquireBlocking(b.get(), 5, 1, LockMode::Shared, path)
                           : OfdLock::acquireWithin(b.get(), 5, 1, LockMode::Shared, 10s, path);
    releaser.get();
    CHECK(got.held());
    CHECK(lockedBy(a.get(), 5, 1, LockMode::Exclusive, LockMode::Shared));
  }
}

TEST_CASE("OFD lock calls on a bad descriptor throw an Error naming the file") {
  auto messageOf = [](auto&& call) -> std::string {
    try {
      call();
    } catch (const Error& e) {
      return e.what();
    }
    return "(no error)";
  };
  CHECK(messageOf([] {
          OfdLock::tryAcquire(-1, 0, 1, LockMode::Shared, "/x/y.db-shm");
        }).find("/x/y.db-shm") != std::string::npos);
  CHECK(messageOf([] {
          OfdLock::acquireBlocking(-1, 0, 1, LockMode::Shared, "/x/y.db");
        }).find("/x/y.db") != std::string::npos);
  CHECK(messageOf([] {
          OfdLock::conflictingLock(-1, 0, 1, LockMode::Shared, "/x/z");
        }).find("cannot query locks on bytes [0, +1) of /x/z") != std::string::npos);
  // A read-only descriptor cannot carry an exclusive (write) lock.
  TempDir dir;
  const std::string path = dir.file("f");
  UniqueFd rw = makeFile(path);
  UniqueFd ro = openFile(path, O_RDONLY);
  CHECK(messageOf([&] {
          OfdLock::tryAcquire(ro.get(), 0, 1, LockMode::Exclusive, path);
        }).find(path) != std::string::npos);
}
