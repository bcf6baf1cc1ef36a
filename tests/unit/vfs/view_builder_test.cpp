// Views built from real backups (backup_fixture.h): every page read back through the page source
// gives the database SQLite had at the backed-up position, across commits that grow, rewrite and
// shrink it; later objects move a new view and leave the earlier one as it was; a gap in the
// chain is refused.
#include <doctest/doctest.h>

#include <string>

#include "backup/content_digest.h"
#include "tests/support/backup_fixture.h"
#include "tests/support/sqlite_fixture.h"
#include "tests/support/temp_dir.h"
#include "vfs/page_one.h"
#include "vfs/page_source.h"
#include "vfs/view_builder.h"

using namespace walstream;
using namespace walstream::test;
using namespace walstream::vfs;

namespace {

// The content digest of the database `view` describes, every page read through `pages` into a
// file as the VFS serves them.
std::string digestOf(const View& view, PageSource& pages, const std::string& path) {
  std::vector<uint8_t> image(uint64_t{view.pageCount} * view.pageSize);
  for (uint32_t p = 1; p <= view.pageCount; ++p) {
    pages.readPage(view, p,
                   std::span(image).subspan(uint64_t{p - 1} * view.pageSize, view.pageSize));
  }
  patchPageOne(image, view.version, view.pageCount);
  writeBytes(path, image);
  return backup::contentDigest(path);
}

}  // namespace

TEST_CASE("a view of a real backup reads as the database at the backed-up position") {
  TempDir dir;
  BackupFixture backup(dir);
  backup.insertRows(0, 200);
  backup.snapshot();
  backup.insertRows(200, 400);                                            // grows it
  backup.db().exec("UPDATE t SET b = randomblob(200) WHERE id % 3 = 0");  // rewrites pages
  REQUIRE(backup.backUpWal());

  ViewBuilder builder(backup.store());
  const auto view = builder.view(1);
  CHECK(view->position == backup.position());
  CHECK(view->walPages.pages() > 0);
  PageCache cache(1 << 20);
  PageSource pages(backup.store(), cache);
  CHECK(digestOf(*view, pages, dir.file("image.db")) == backup::contentDigest(backup.dbPath()));
  const uint64_t reads = pages.reads();
  CHECK(digestOf(*view, pages, dir.file("again.db")) == backup::contentDigest(backup.dbPath()));
  CHECK(pages.reads() == reads);  // all cached
}

TEST_CASE("later WAL objects move a new view and leave the earlier view as it was") {
  TempDir dir;
  BackupFixture backup(dir);
  backup.insertRows(0, 300);
  backup.snapshot();
  backup.insertRows(300, 350);
  REQUIRE(backup.backUpWal());
  const std::string before = backup::contentDigest(backup.dbPath());

  ViewBuilder builder(backup.store());
  const auto first = builder.view(1);
  CHECK_FALSE(builder.advance());

  // Deletes most rows and vacuums: commits that shrink the database below the snapshot's size.
  backup.db().exec("DELETE FROM t WHERE id > 20");
  backup.db().exec("VACUUM");
  backup.insertRows(1000, 1010);
  REQUIRE(backup.backUpWal());
  CHECK(builder.advance());
  const auto second = builder.view(2);
  CHECK(second->pageCount < first->pageCount);
  CHECK(second->position == backup.position());

  PageCache cache(1 << 20);
  PageSource pages(backup.store(), cache);
  CHECK(digestOf(*second, pages, dir.file("second.db")) == backup::contentDigest(backup.dbPath()));
  CHECK(digestOf(*first, pages, dir.file("first.db")) == before);
}

TEST_CASE("a WAL object that does not follow the last one is refused, naming it") {
  TempDir dir;
  BackupFixture backup(dir);
  backup.snapshot();
  backup.insertRows(0, 10);
  REQUIRE(backup.backUpWal(/*skip=*/true));
  try {
    ViewBuilder builder(backup.store());
    FAIL("built a view over a gap");
  } catch (const Error& e) {
    const std::string what = e.what();
    CHECK(what.find(".wal.lz4") != std::string::npos);
    CHECK(what.find("missing or out of order") != std::string::npos);
  }
}
