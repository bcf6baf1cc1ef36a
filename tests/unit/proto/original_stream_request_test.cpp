// The request a replica writes to a primary of the original protocol (docs/wire-format.md §9),
// and walstream's own request naming the database by path=: both are requests a walstream
// primary parses back to the same database and position.
#include <doctest/doctest.h>

#include "proto/original_stream_request.h"
#include "proto/stream_request.h"

using namespace walstream;
using namespace walstream::proto;

namespace {

StreamRequest parsedTarget(const std::string& target) {
  const ParsedStreamRequest p = parseStreamRequest(target.substr(target.find('?') + 1));
  REQUIRE(p.request.has_value());
  return *p.request;
}

}  // namespace

TEST_CASE("the original request names the path, and resumes by generation and index only") {
  CHECK(originalStreamTarget("/srv/data/app.db", Pos{}) == "/stream?path=/srv/data/app.db");
  const Pos at{0x0123456789abcdefULL, 0x2a, 0x1f60};
  const std::string target = originalStreamTarget("/srv/my data/app.db", at);
  CHECK(target ==
        "/stream?path=/srv/my%20data/app.db&generation=0123456789abcdef&index=000000000000002a");
  const StreamRequest back = parsedTarget(target);
  CHECK(back.db == "/srv/my data/app.db");
  CHECK(back.pos == Pos{at.generation, at.index, 0});  // no offset: the whole index
  CHECK(back.heartbeat.count() == 0);
  CHECK_FALSE(back.indexEnds);
}

TEST_CASE("walstream's request can name the database by path=, and parses back the same") {
  StreamRequest r;
  r.db = "/srv/data/app.db";
  r.dbAsPath = true;
  r.pos = Pos{0x0123456789abcdefULL, 3, 0x1f60};
  r.heartbeat = std::chrono::milliseconds(1000);
  r.indexEnds = true;
  const std::string target = r.target();
  CHECK(target.starts_with("/stream?path=/srv/data/app.db&pos="));
  CHECK(parsedTarget(target) == r);
  r.dbAsPath = false;
  CHECK(r.target().starts_with("/stream?db=/srv/data/app.db&pos="));
  CHECK(parsedTarget(r.target()) == r);
}
