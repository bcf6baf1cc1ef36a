// Following a store (vfs/view_feed.h): new WAL objects move the view; a new generation is
// switched to once it holds a snapshot taken after the current generation's newest commit, not
// while its first snapshot is still missing.
#include <doctest/doctest.h>

#include <chrono>
#include <thread>

#include "tests/support/backup_fixture.h"
#include "tests/support/temp_dir.h"
#include "vfs/view_feed.h"

using namespace walstream;
using namespace walstream::test;
using namespace walstream::vfs;

TEST_CASE("the feed moves with new WAL objects and to a newer generation") {
  TempDir dir;
  BackupFixture older(dir, 0x1111111111111111, "older.db");
  older.insertRows(0, 10);
  older.snapshot();
  older.insertRows(10, 20);
  REQUIRE(older.backUpWal());

  ViewFeed feed(older.store());
  CHECK(feed.first()->position == older.position());
  CHECK(feed.poll() == nullptr);  // nothing new

  older.insertRows(20, 30);
  REQUIRE(older.backUpWal());
  const auto moved = feed.poll();
  REQUIRE(moved != nullptr);
  CHECK(moved->position == older.position());
  CHECK(moved->version > feed.first()->version);

  // A primary that restarted with a new generation: WAL objects before its first snapshot.
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  BackupFixture newer(dir, 0x3333333333333333, "newer.db");
  newer.insertRows(0, 5);
  REQUIRE(newer.backUpWal());
  CHECK(feed.poll() == nullptr);

  newer.snapshot();
  newer.insertRows(5, 8);
  REQUIRE(newer.backUpWal());
  const auto switched = feed.poll();
  REQUIRE(switched != nullptr);
  CHECK(switched->position == newer.position());
  CHECK(switched->version > moved->version);
  CHECK(feed.poll() == nullptr);

  older.insertRows(30, 40);  // the old generation goes on: no longer followed
  REQUIRE(older.backUpWal());
  CHECK(feed.poll() == nullptr);
}
