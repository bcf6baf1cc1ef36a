// Requests that never end: the primary holds at most 64 KiB of one request, whatever part of it
// grows (the parser bounds the header and the body, not the framing lines of a chunked body).
#include <doctest/doctest.h>

#include <chrono>
#include <string>

#include "tests/support/cluster.h"
#include "tests/support/db_writer.h"
#include "tests/support/hostile_clients.h"
#include "tests/support/http_client.h"
#include "tests/support/primary_status.h"
#include "tests/support/process_usage.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

TEST_CASE("a chunked request whose framing never ends is refused once it holds 64 KiB") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  // A long stall timeout: only the bound on the request can end these connections in time.
  PrimaryProcess primary(db, dir.file("primary"), {"--stall-timeout", "10m"});
  const pid_t pid = primary.process().pid();
  waitForCapture(primary.port());
  const uint64_t idleKiB = residentKiB(pid);

  const std::string head =
      "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  std::string prefix;
  SUBCASE("a chunk extension") {
    prefix = head + "1;";
  }
  SUBCASE("a trailer field") {
    prefix = head + "0\r\nX-Trailer: ";
  }
  // What the socket buffers between the two take in is megabytes; a server that holds all it
  // reads takes everything sent.
  constexpr int64_t kMaxSent = 64ll * 1024 * 1024;
  const int64_t sent =
      sendEndlessRequest(primary.port(), prefix, std::string(64 * 1024, 'a'), kMaxSent);
  const uint64_t peakKiB = residentKiB(pid);
  MESSAGE("connection closed after " << sent << " bytes of the endless part; RSS " << idleKiB / 1024
                                     << " -> " << peakKiB / 1024 << " MiB");
  REQUIRE(sent >= 0);
  CHECK(sent < 16 * 1024 * 1024);
  // The server is fine and serves others.
  CHECK(httpRequest(primary.port(), "/healthz").status == 200);
}
