#include <doctest/doctest.h>

#include <stdexcept>

#include "server/http_error.h"
#include "server/primary_server.h"
#include "server/query.h"

using namespace walstream;
using namespace walstream::server;

namespace {

const std::vector<ServedName> kOne = {{"app.db", "data/app.db", "/srv/data/app.db"}};
const std::vector<ServedName> kTwo = {{"app.db", "data/app.db", "/srv/data/app.db"},
                                      {"other.db", "/abs/other.db", "/abs/other.db"}};
const std::string kPos = "0123456789abcdef/0000000000000003:0000000000001f60";

// The status of the HttpError parseStreamQuery throws, or 0 when it accepts the query.
int statusOf(const std::string& query, const std::vector<ServedName>& served = kOne) {
  try {
    parseStreamQuery(query, served);
    return 0;
  } catch (const HttpError& e) {
    return e.status();
  }
}

}  // namespace

TEST_CASE("a /stream query becomes a typed request") {
  StreamQuery q = parseStreamQuery("db=app.db&pos=" + kPos, kOne);
  CHECK(q.database == 0);
  CHECK(q.pos == parsePos(kPos));
  CHECK_FALSE(q.checksum);
  CHECK(q.heartbeat.count() == 0);
  CHECK_FALSE(q.compress);

  q = parseStreamQuery("", kOne);  // db may be left out when one database is served
  CHECK(q.database == 0);
  CHECK(q.pos.empty());

  q = parseStreamQuery("db=other.db&checksum=0000000a0000000b&heartbeat=250&compress=1", kTwo);
  CHECK(q.database == 1);
  REQUIRE(q.checksum);
  CHECK(q.checksum->s0 == 10);
  CHECK(q.checksum->s1 == 11);
  CHECK(q.heartbeat.count() == 250);
  CHECK(q.compress);
  CHECK_FALSE(parseStreamQuery("compress=0&heartbeat=0", kOne).compress);
  CHECK(parseStreamQuery("compress=true", kOne).compress);
  CHECK_FALSE(q.indexEnds);
  CHECK(parseStreamQuery("index-ends=1", kOne).indexEnds);
  CHECK_FALSE(parseStreamQuery("index-ends=0", kOne).indexEnds);
}

TEST_CASE("path= is an alias of db= and accepts the path given on the command line") {
  CHECK(parseStreamQuery("path=other.db", kTwo).database == 1);
  CHECK(parseStreamQuery("path=data/app.db", kTwo).database == 0);
  CHECK(parseStreamQuery("path=/srv/data/app.db", kTwo).database == 0);
  CHECK(parseStreamQuery("path=/srv/data/./x/../app.db", kTwo).database == 0);
  CHECK(parseStreamQuery("path=/abs/other.db", kTwo).database == 1);
  CHECK(parseStreamQuery("db=&path=other.db", kTwo).database == 1);
  CHECK(parseStreamQuery("db=app.db&path=other.db", kTwo).database == 0);  // db= wins
}

TEST_CASE("generation= with index= is the older spelling of a position at offset 0") {
  StreamQuery q = parseStreamQuery("generation=0123456789abcdef&index=3", kOne);
  CHECK(q.pos == Pos{0x0123456789abcdefULL, 3, 0});
  q = parseStreamQuery("generation=0123456789abcdef&index=0000000000000003", kOne);
  CHECK(q.pos == Pos{0x0123456789abcdefULL, 3, 0});
  q = parseStreamQuery(
      "pos=0123456789abcdef/0000000000000003:0000000000000000&generation=0123456789abcdef&"
      "index=3",
      kOne);
  CHECK(q.pos == Pos{0x0123456789abcdefULL, 3, 0});
}

TEST_CASE("query values are percent-decoded; the first of a repeated parameter wins") {
  CHECK(parseStreamQuery("db=app%2Edb", kOne).database == 0);
  CHECK(parseStreamQuery("db=%61pp.db", kOne).database == 0);
  CHECK(parseStreamQuery("pos=0123456789abcdef%2F0000000000000003%3A0000000000001f60", kOne).pos ==
        parsePos(kPos));
  CHECK(parseStreamQuery("db=other.db&db=app.db", kTwo).database == 1);
  CHECK(percentDecode("a+b%20c") == "a b c");
  CHECK(percentDecode("%e2%82%AC") == "\xe2\x82\xac");
  auto pairs = parseQueryString("a=1&&b&c=%3D&=x");
  REQUIRE(pairs.size() == 4);
  CHECK(pairs[0] == std::make_pair(std::string("a"), std::string("1")));
  CHECK(pairs[1] == std::make_pair(std::string("b"), std::string("")));
  CHECK(pairs[2] == std::make_pair(std::string("c"), std::string("=")));
  CHECK(pairs[3] == std::make_pair(std::string(""), std::string("x")));
}

TEST_CASE("unknown parameters are ignored") {
  CHECK(statusOf("foo=bar&db=app.db&x") == 0);
  CHECK(statusOf("timeout=%zz") == 400);  // but they must still be well-formed
}

TEST_CASE("malformed values are 400") {
  CHECK(statusOf("pos=zz") == 400);
  CHECK(statusOf("pos=0123456789ABCDEF/0000000000000003:0000000000001f60") == 400);
  CHECK(statusOf("pos=0000000000000000/0000000000000003:0000000000001f60") == 400);
  CHECK(statusOf("pos=" + kPos + "x") == 400);
  CHECK(statusOf("generation=0123456789abcdef") == 400);
  CHECK(statusOf("index=3") == 400);
  CHECK(statusOf("generation=0123456789abcde&index=3") == 400);
  CHECK(statusOf("generation=0000000000000000&index=3") == 400);
  CHECK(statusOf("generation=0123456789abcdef&index=3g") == 400);
  CHECK(statusOf("generation=0123456789abcdef&index=00000000000000003") == 400);
  CHECK(statusOf("pos=" + kPos + "&generation=0123456789abcdef&index=4") == 400);
  CHECK(statusOf("checksum=123") == 400);
  CHECK(statusOf("checksum=0123456789abcdeg") == 400);
  CHECK(statusOf("heartbeat=abc") == 400);
  CHECK(statusOf("heartbeat=99") == 400);
  CHECK(statusOf("heartbeat=3600001") == 400);
  CHECK(statusOf("heartbeat=-5") == 400);
  CHECK(statusOf("compress=2") == 400);
  CHECK(statusOf("index-ends=yes") == 400);
  CHECK(statusOf("db=app%2") == 400);
  CHECK(statusOf("db=app%g1") == 400);
  CHECK(statusOf("db=app%") == 400);
}

TEST_CASE("a missing db when several databases are served is 400, naming them") {
  CHECK(statusOf("", kTwo) == 400);
  CHECK(statusOf("db=", kTwo) == 400);
  try {
    parseStreamQuery("pos=", kTwo);
    FAIL("accepted");
  } catch (const HttpError& e) {
    CHECK(std::string(e.what()).find("app.db, other.db") != std::string::npos);
  }
}

TEST_CASE("a database that is not served is 404, whatever file it names") {
  CHECK(statusOf("db=nope.db") == 404);
  CHECK(statusOf("db=APP.DB") == 404);
  CHECK(statusOf("path=/etc/passwd") == 404);
  CHECK(statusOf("path=/srv/data/app.db-wal") == 404);
  CHECK(statusOf("path=/srv/data/app.db-walstream/position") == 404);
  CHECK(statusOf("path=../data/app.db") == 404);
  CHECK(statusOf("path=/srv/data/") == 404);
  CHECK(statusOf("db=other.db", kOne) == 404);
}

TEST_CASE("error messages quote at most 64 bytes of a request value") {
  for (const std::string& query :
       {"pos=" + std::string(5000, 'a'), "db=" + std::string(5000, 'b'),
        "heartbeat=" + std::string(5000, '9'), "db=%" + std::string(5000, 'z'),
        "generation=" + std::string(5000, 'c') + "&index=1",
        "checksum=" + std::string(5000, 'd')}) {
    try {
      parseStreamQuery(query, kOne);
      FAIL("accepted");
    } catch (const HttpError& e) {
      CAPTURE(e.what());
      CHECK(std::string(e.what()).size() < 200);
      CHECK(std::string(e.what()).find("(5") != std::string::npos);  // the length is named
    }
  }
}

TEST_CASE("request targets split into path and query") {
  auto t = splitTarget("/stream?db=a&pos=");
  CHECK(t.path == "/stream");
  CHECK(t.query == "db=a&pos=");
  t = splitTarget("/status");
  CHECK(t.path == "/status");
  CHECK(t.query.empty());
  t = splitTarget("/x?");
  CHECK(t.path == "/x");
  CHECK(t.query.empty());
}
