#include "core/promotion_record.h"

#include <doctest/doctest.h>

#include "core/error.h"
#include "core/file_util.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using walstream::test::TempDir;

namespace {

PromotionRecord sample() {
  PromotionRecord r;
  r.position = parsePos("0123456789abcdef/0000000000000003:0000000000001f60");
  r.checksum = Checksum{0x01020304, 0xa0b0c0d0};
  r.salt1 = 0x11223344;
  r.salt2 = 0x55667788;
  r.db = "app.db";
  r.promotedAtMs = 1796000000123;
  r.dbFile = FileStamp{0x1234, 0x8000, 0x17f0000000000001, 0x17f0000000000002};
  return r;
}

}  // namespace

TEST_CASE("a promotion record is one key=value per line and reads back as written") {
  const PromotionRecord r = sample();
  CHECK(formatPromotionRecord(r) ==
        "position=0123456789abcdef/0000000000000003:0000000000001f60\n"
        "checksum=01020304a0b0c0d0\nsalts=1122334455667788\ndb=app.db\n"
        "promoted-at-ms=1796000000123\n"
        "db-file=0000000000001234:0000000000008000:17f0000000000001:17f0000000000002\n");
  CHECK(parsePromotionRecord(formatPromotionRecord(r), "p") == r);

  PromotionRecord unknown = r;
  unknown.checksum.reset();
  unknown.salt1 = unknown.salt2 = 0;
  unknown.db.clear();
  unknown.dbFile.reset();
  const std::string text = formatPromotionRecord(unknown);
  CHECK(text.find("checksum=-\nsalts=-\ndb=-\n") != std::string::npos);
  CHECK(text.find("\ndb-file=-\n") != std::string::npos);
  CHECK(parsePromotionRecord(text, "p") == unknown);
}

TEST_CASE("a promotion record that does not parse is an error naming the file") {
  const std::string good = formatPromotionRecord(sample());
  for (const std::string& bad :
       {std::string(""), good.substr(0, good.size() / 2), good + "extra=1\n",
        std::string("position=0123456789abcdef/0000000000000003:0000000000001f60\n"
                    "checksum=-\nsalts=-\ndb=-\npromoted-at-ms=1\ndb-file=1:2\n"),
        std::string("position=\nchecksum=-\nsalts=-\ndb=-\npromoted-at-ms=1\n"),
        std::string("position=0123456789abcdef/0000000000000003:0000000000001f60\n"
                    "checksum=-\nsalts=1122334455667788\ndb=-\npromoted-at-ms=1\ndb-file=-\n"),
        std::string("position=0123456789abcdef/0000000000000003:0000000000001f60\n"
                    "checksum=-\nsalts=-\ndb=-\npromoted-at-ms=12x\ndb-file=-\n")}) {
    CAPTURE(bad);
    CHECK_THROWS_WITH_AS(parsePromotionRecord(bad, "/x/promoted"), doctest::Contains("/x/promoted"),
                         Error);
  }
}

TEST_CASE("a promotion record is saved atomically and loaded; a missing one is nullopt") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  CHECK(promotedRecordPath(db) == db + "-walstream/promoted");
  makeDirs(db + "-walstream");
  CHECK_FALSE(loadPromotionRecord(promotedRecordPath(db)).has_value());
  savePromotionRecord(realFileSystem(), promotedRecordPath(db), sample());
  CHECK(loadPromotionRecord(promotedRecordPath(db)) == sample());
  CHECK_FALSE(pathExists(promotedRecordPath(db) + ".tmp"));
}
