// The primary's descriptors under a small open-file limit (256, soft and hard): the connection
// cap derived from it leaves capture its reserve even when every connection is a stream being
// sent a snapshot (its socket and two SQLite descriptors, at most --max-snapshots of them).
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/support/cluster.h"
#include "tests/support/db_writer.h"
#include "tests/support/hostile_clients.h"
#include "tests/support/http_client.h"
#include "tests/support/primary_status.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

TEST_CASE("streams being sent snapshots on every connection leave capture its descriptors") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  insertRows(db, 1000, 2000, 200);  // about 2 MiB: far more than a stalled client's buffers
  // Every connection may be a stream (--max-streams): what they hold is what is measured.
  PrimaryProcess primary(db, dir.file("primary"), {"--max-streams", "256"}, 0,
                         {"/usr/bin/prlimit", "--nofile=256:256", "--"});
  waitForCapture(primary.port());
  const std::string generation = fetchStatus(primary.port()).databases.at(0).generation;

  // The application writes all along: capture opens and writes segment files.
  DbWriter writer(db, {.rows = 1'000'000,
                       .rowsPerTransaction = 1,
                       .payloadBytes = 200,
                       .pauseBetweenTransactions = 5ms,
                       .maxDuration = 60s});
  {
    // More clients than connections are allowed, each asking for a snapshot and reading none of
    // it; they stall and are cut after --stall-timeout (10 s), so their snapshots are held
    // meanwhile.
    SilentConnections streams(primary.port(), 200, "/stream?pos=", 4096, kSmallestSegment);
    MESSAGE(streams.size() << " connections made");
    const int before = writer.committedRows();
    const auto until = std::chrono::steady_clock::now() + 6s;
    while (std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(100ms);
    MESSAGE((writer.committedRows() - before) << " rows written meanwhile");
    CHECK(writer.committedRows() > before);
  }
  writer.stop();
  const std::string log = primary.process().stderrText();
  REQUIRE_MESSAGE(primary.process().running(), "the primary ended:\n" << log);
  const auto status = waitForCapture(primary.port());
  CHECK(status.databases.at(0).generation == generation);
  CHECK(httpRequest(primary.port(), "/healthz").status == 200);
  CHECK(log.find("Too many open files") == std::string::npos);
  CHECK(log.find("(retrying)") == std::string::npos);  // capture never failed
  CHECK(log.find("cannot take a snapshot") == std::string::npos);
  const size_t at = log.find("listening on");
  REQUIRE(at != std::string::npos);
  MESSAGE(log.substr(at, log.find('\n', at) - at));
}
