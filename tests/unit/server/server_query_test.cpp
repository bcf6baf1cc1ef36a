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

TEST_CASE("a /stream query becomes a request for one served database") {
  StreamQuery q = parseStreamQuery("db=app.db&pos=" + kPos, kOne);
  CHECK(q.database == 0);
  CHECK(q.request.pos == parsePos(kPos));

  q = parseStreamQuery("", kOne);  // db may be left out when one database is served
  CHECK(q.database == 0);
  CHECK(q.request.pos.empty());

  q = parseStreamQuery("db=other.db&heartbeat=250&compress=1", kTwo);
  CHECK(q.database == 1);
  CHECK(q.request.heartbeat.count() == 250);
  CHECK(q.request.compress);
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

TEST_CASE("a malformed query is 400 with the protocol's reason; the first db= wins") {
  CHECK(statusOf("db=app%2Edb") == 0);
  CHECK(parseStreamQuery("db=other.db&db=app.db", kTwo).database == 1);
  CHECK(statusOf("timeout=%zz") == 400);
  CHECK(statusOf("pos=zz") == 400);
  CHECK(statusOf("heartbeat=99") == 400);
  CHECK(statusOf("db=app%") == 400);
  try {
    parseStreamQuery("compress=2", kOne);
    FAIL("accepted");
  } catch (const HttpError& e) {
    CHECK(e.status() == 400);
    CHECK(std::string(e.what()) == proto::parseStreamRequest("compress=2").error);
  }
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

TEST_CASE("a 404 quotes at most 64 bytes of the database asked for") {
  try {
    parseStreamQuery("db=" + std::string(5000, 'b'), kOne);
    FAIL("accepted");
  } catch (const HttpError& e) {
    CAPTURE(e.what());
    CHECK(e.status() == 404);
    CHECK(std::string(e.what()).size() < 200);
    CHECK(std::string(e.what()).find("(5000 bytes)") != std::string::npos);
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
