#include <doctest/doctest.h>

#include <string>

#include "proto/wait_request.h"

using namespace walstream;
using namespace walstream::proto;
using namespace std::chrono_literals;

namespace {

const std::string kPos = "0123456789abcdef/0000000000000003:0000000000001f60";

std::string errorOf(std::string_view query, const std::set<std::string>& allowed) {
  try {
    parseWaitRequest(query, allowed);
  } catch (const WaitRequestError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("a /wait request takes pos and timeout") {
  const WaitRequest r = parseWaitRequest("pos=" + kPos + "&timeout=250ms", {"pos", "timeout"});
  REQUIRE(r.pos);
  CHECK(r.pos->str() == kPos);
  CHECK(r.timeout == 250ms);
  CHECK(parseWaitRequest("pos=" + kPos, {"pos", "timeout"}).timeout == kDefaultWaitTimeout);
  CHECK(parseWaitRequest("pos=" + kPos + "&timeout=60s", {"pos", "timeout"}).timeout == 60s);
  CHECK(parseWaitRequest("pos=" + kPos + "&timeout=0", {"pos", "timeout"}).timeout == 0ms);
}

TEST_CASE("a missing or malformed position is an error that says what is wanted") {
  CHECK(errorOf("timeout=1s", {"pos", "timeout"}).find("missing pos") != std::string::npos);
  CHECK(errorOf("pos=", {"pos", "timeout"}).find("missing pos") != std::string::npos);
  CHECK(errorOf("pos=12/34:56", {"pos", "timeout"}).find("GENERATION/INDEX:OFFSET") !=
        std::string::npos);
  CHECK(errorOf("pos=0000000000000000/0000000000000003:0000000000001f60", {"pos"})
            .find("generation 0") != std::string::npos);
  CHECK(errorOf("pos=" + std::string(500, 'a'), {"pos"}).find("invalid position") !=
        std::string::npos);
}

TEST_CASE("a timeout over the maximum, malformed, or a parameter unknown or repeated is refused") {
  CHECK(errorOf("pos=" + kPos + "&timeout=61s", {"pos", "timeout"}).find("over the maximum") !=
        std::string::npos);
  CHECK(errorOf("pos=" + kPos + "&timeout=60001ms", {"pos", "timeout"}).find("maximum") !=
        std::string::npos);
  for (const char* bad : {"1", "-1s", "1.5s", "s", "ms", "1h", "99999999999s", "1 s"}) {
    CAPTURE(bad);
    CHECK(errorOf("pos=" + kPos + "&timeout=" + bad, {"pos", "timeout"}).find("invalid timeout") !=
          std::string::npos);
  }
  CHECK(errorOf("pos=" + kPos + "&timout=1s", {"pos", "timeout"}).find("unknown parameter") !=
        std::string::npos);
  CHECK(errorOf("timeout=1s&timeout=2s", {"db", "timeout"}).find("given twice") !=
        std::string::npos);
}

TEST_CASE("a /sync request names its database or none") {
  CHECK(parseWaitRequest("db=app.db&timeout=2s", {"db", "timeout"}).db == "app.db");
  const WaitRequest r = parseWaitRequest("", {"db", "timeout"});
  CHECK(r.db.empty());
  CHECK_FALSE(r.pos);
}

TEST_CASE("positions answer as JSON") {
  CHECK(positionJson("app.db", parsePos(kPos)) ==
        "{\"db\":\"app.db\",\"pos\":\"" + kPos + "\",\"generation\":\"0123456789abcdef\"}\n");
  CHECK(positionJson("", parsePos(kPos)) ==
        "{\"pos\":\"" + kPos + "\",\"generation\":\"0123456789abcdef\"}\n");
}
