// The replica's --heartbeat is checked against the primary's bounds at start, and a primary
// that rejects the replica's request (400) is reported as a configuration error and asked
// again only slowly, with the real binary.
#include <doctest/doctest.h>
#include <signal.h>

#include "tests/support/canned_http_server.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace walstream::test;
using namespace std::chrono_literals;

TEST_CASE("walstream replica refuses a --heartbeat the primary would reject") {
  TempDir dir;
  for (const std::string value : {"50ms", "99ms", "0", "2h", "3601s"}) {
    // Port 1 is never a primary: a replica that started would retry it until killed.
    auto r = runToCompletion({WALSTREAM_BINARY, "replica", "--upstream", "http://127.0.0.1:1",
                              "--heartbeat", value, dir.file("replica.db")},
                             dir.file("hb-" + value), 10s);
    CHECK_MESSAGE(r.exitCode == 2, value);
    CHECK_MESSAGE(r.err.find("--heartbeat " + value + " is out of range: want 100ms to 1h") !=
                      std::string::npos,
                  r.err);
  }
}

TEST_CASE("a primary answering 400 is a configuration error, logged and not asked again at once") {
  TempDir dir;
  const std::string body =
      R"({"error":"invalid heartbeat \"100\": want 0 (off) or 100 to 3600000 milliseconds"})";
  CannedHttpServer primary(
      "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
      "Content-Length: " +
      std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body);
  // The bounds themselves are accepted. (--db: the replica asks for /stream only.)
  Process replica({WALSTREAM_BINARY, "replica", "--upstream", primary.url(), "--db", "app.db",
                   "--heartbeat", "100ms", "--http", "127.0.0.1:0", dir.file("replica.db")},
                  dir.file("replica"));
  const std::string log = replica.waitForStderr("configuration error", 10s);
  REQUIRE(log != "");
  CHECK(log.find("invalid heartbeat") != std::string::npos);
  REQUIRE(primary.waitForRequests(1, 10s) >= 1);
  CHECK(primary.targets().front().find("heartbeat=100") != std::string::npos);
  // Reconnect backoff after other errors starts at 100 ms: within 3 s it would have asked
  // again several times.
  CHECK(primary.waitForRequests(2, 3s) == 1);
  // /status reports the error.
  const std::string statusLine = replica.waitForStderr("replica status: listening on", 10s);
  const size_t at = statusLine.find("listening on http://127.0.0.1:");
  REQUIRE(at != std::string::npos);
  const auto port = static_cast<uint16_t>(std::stoi(statusLine.substr(at + 30)));
  const HttpResponse status = httpRequest(port, "/status");
  CHECK(status.status == 200);
  CHECK(status.body.find("400") != std::string::npos);
  replica.signal(SIGTERM);
  CHECK(replica.wait(10s) == std::optional<int>(0));

  Process hourly({WALSTREAM_BINARY, "replica", "--upstream", primary.url(), "--db", "app.db",
                  "--heartbeat", "1h", dir.file("replica2.db")},
                 dir.file("replica2"));
  REQUIRE(primary.waitForRequests(2, 10s) >= 2);
  CHECK(primary.targets()[1].find("heartbeat=3600000") != std::string::npos);
}
