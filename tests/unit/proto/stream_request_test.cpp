#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/pos.h"
#include "proto/heartbeat_bounds.h"
#include "proto/stream_request.h"

using namespace walstream;
using namespace walstream::proto;

namespace {

const std::string kPos = "0123456789abcdef/0000000000000003:0000000000001f60";

// The request a query parses to; fails the test when it is rejected.
StreamRequest parsed(const std::string& query) {
  ParsedStreamRequest p = parseStreamRequest(query);
  INFO(query, ": ", p.error);
  REQUIRE(p.request);
  CHECK(p.error.empty());
  return *p.request;
}

// Why a query is rejected, or "" when it is accepted.
std::string rejection(const std::string& query) {
  ParsedStreamRequest p = parseStreamRequest(query);
  CHECK(p.request.has_value() == p.error.empty());
  return p.error;
}

}  // namespace

TEST_CASE("a /stream query becomes a typed request") {
  StreamRequest r = parsed("db=app.db&pos=" + kPos);
  CHECK(r.db == "app.db");
  CHECK(r.pos == parsePos(kPos));
  CHECK_FALSE(r.checksum);
  CHECK(r.heartbeat.count() == 0);
  CHECK_FALSE(r.compress);
  CHECK_FALSE(r.indexEnds);
  CHECK_FALSE(r.continues);

  CHECK(parsed("") == StreamRequest{});

  r = parsed("db=other.db&checksum=0000000a0000000b&heartbeat=250&compress=1&index-ends=1");
  REQUIRE(r.checksum);
  CHECK(r.checksum->s0 == 10);
  CHECK(r.checksum->s1 == 11);
  CHECK(r.heartbeat.count() == 250);
  CHECK(r.compress);
  CHECK(r.indexEnds);
  CHECK_FALSE(parsed("compress=0&heartbeat=0").compress);
  CHECK(parsed("compress=true").compress);
  CHECK_FALSE(parsed("index-ends=false").indexEnds);
  CHECK(parsed("continues=1").continues);
  CHECK_FALSE(parsed("continues=0").continues);
}

TEST_CASE("path= is the older spelling of db=; db= wins when both are given") {
  CHECK(parsed("path=/srv/data/app.db").db == "/srv/data/app.db");
  CHECK(parsed("db=&path=other.db").db == "other.db");
  CHECK(parsed("db=app.db&path=other.db").db == "app.db");
}

TEST_CASE("generation= with index= is the older spelling of a position at offset 0") {
  const Pos expected{0x0123456789abcdefULL, 3, 0};
  CHECK(parsed("generation=0123456789abcdef&index=3").pos == expected);
  CHECK(parsed("generation=0123456789abcdef&index=0000000000000003").pos == expected);
  CHECK(parsed("pos=" + expected.str() + "&generation=0123456789abcdef&index=3").pos == expected);
}

TEST_CASE("query values are percent-decoded; the first of a repeated parameter wins") {
  CHECK(parsed("db=app%2Edb").db == "app.db");
  CHECK(parsed("db=a+b").db == "a b");
  CHECK(parsed("pos=0123456789abcdef%2F0000000000000003%3A0000000000001f60").pos == parsePos(kPos));
  CHECK(parsed("db=other.db&db=app.db").db == "other.db");
  CHECK(parsed("heartbeat=200&heartbeat=x").heartbeat.count() == 200);
}

TEST_CASE("unknown parameters are ignored, but must still decode") {
  CHECK(rejection("foo=bar&db=app.db&x").empty());
  CHECK_FALSE(rejection("timeout=%zz").empty());
}

TEST_CASE("malformed values are rejected, naming the parameter") {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"pos=zz", "position"},
      {"pos=0123456789ABCDEF/0000000000000003:0000000000001f60", "generation"},
      {"pos=0000000000000000/0000000000000003:0000000000001f60", "position"},
      {"pos=" + kPos + "x", "position"},
      {"generation=0123456789abcdef", "generation= and index="},
      {"index=3", "generation= and index="},
      {"generation=0123456789abcde&index=3", "generation"},
      {"generation=0000000000000000&index=3", "generation 0 is reserved"},
      {"generation=0123456789abcdef&index=3g", "index"},
      {"generation=0123456789abcdef&index=00000000000000003", "index"},
      {"pos=" + kPos + "&generation=0123456789abcdef&index=4", "contradicts"},
      {"checksum=123", "checksum"},
      {"checksum=0123456789abcdeg", "checksum"},
      {"heartbeat=abc", "heartbeat"},
      {"heartbeat=99", "heartbeat"},
      {"heartbeat=3600001", "heartbeat"},
      {"heartbeat=-5", "heartbeat"},
      {"compress=2", "compress"},
      {"index-ends=yes", "index-ends"},
      {"continues=2", "continues"},
      {"db=app%2", "percent escape"},
      {"db=app%g1", "percent escape"},
      {"db=app%", "percent escape"},
  };
  for (const auto& [query, named] : cases) {
    CAPTURE(query);
    const std::string why = rejection(query);
    CAPTURE(why);
    CHECK(why.find(named) != std::string::npos);
  }
}

TEST_CASE("heartbeat intervals are 0 (off) or within the protocol's bounds") {
  CHECK(parsed("heartbeat=" + std::to_string(kMinHeartbeat.count())).heartbeat == kMinHeartbeat);
  CHECK(parsed("heartbeat=" + std::to_string(kMaxHeartbeat.count())).heartbeat == kMaxHeartbeat);
  CHECK_FALSE(rejection("heartbeat=" + std::to_string(kMinHeartbeat.count() - 1)).empty());
}

TEST_CASE("a rejection quotes at most 64 bytes of a request value") {
  for (const std::string& query :
       {"pos=" + std::string(5000, 'a'), "heartbeat=" + std::string(5000, '9'),
        "db=%" + std::string(5000, 'z'), "generation=" + std::string(5000, 'c') + "&index=1",
        "checksum=" + std::string(5000, 'd'), "compress=" + std::string(5000, 'e')}) {
    const std::string why = rejection(query);
    CAPTURE(why);
    CHECK(why.size() < 200);
    CHECK(why.find("(5") != std::string::npos);  // the length is named
  }
}

TEST_CASE("a request's target parses back to the same request") {
  CHECK(StreamRequest{}.target() == "/stream?pos=&heartbeat=0");
  StreamRequest full;
  full.db = "other db+%&=.db";
  full.pos = parsePos(kPos);
  full.checksum = Checksum{0xdeadbeef, 0x00c0ffee};
  full.heartbeat = std::chrono::milliseconds(1000);
  full.compress = true;
  full.indexEnds = true;
  full.continues = true;
  CHECK(full.target() == "/stream?db=other%20db%2B%25%26%3D.db&pos=" + kPos +
                             "&checksum=deadbeef00c0ffee&heartbeat=1000&compress=1&index-ends=1" +
                             "&continues=1");
  StreamRequest onlyDb;
  onlyDb.db = "data/app.db";
  for (const StreamRequest& r : {StreamRequest{}, full, onlyDb}) {
    const std::string target = r.target();
    CAPTURE(target);
    REQUIRE(target.starts_with(std::string(kStreamPath) + "?"));
    CHECK(parsed(target.substr(kStreamPath.size() + 1)) == r);
  }
}
