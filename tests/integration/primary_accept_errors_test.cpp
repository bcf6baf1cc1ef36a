// Accepts that fail for want of descriptors (a --max-connections set above what the open-file
// limit allows): the listener retries every 100 ms, and says so once per episode, naming the
// address, and once more when accepts succeed again, rather than a line per retry.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/support/cluster.h"
#include "tests/support/db_writer.h"
#include "tests/support/hostile_clients.h"
#include "tests/support/http_client.h"
#include "tests/support/primary_status.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

TEST_CASE("accepts that fail for want of descriptors are logged once, with the address") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  // A cap far above what 256 descriptors allow: accepts fail with EMFILE.
  PrimaryProcess primary(db, dir.file("primary"), {"--max-connections", "1000"}, 0,
                         {"/usr/bin/prlimit", "--nofile=256:256", "--"});
  waitForCapture(primary.port());
  {
    SilentConnections idle(primary.port(), 300);
    MESSAGE(idle.size() << " idle connections made");
    // The accept loop retries every 100 ms while descriptors are short: about 20 times here.
    primary.process().waitForStderr("cannot accept connections", scaled(10s));
    const auto until = std::chrono::steady_clock::now() + 2s;
    while (std::chrono::steady_clock::now() < until) std::this_thread::sleep_for(100ms);
  }
  // Once the idle clients are gone, accepts succeed again.
  // (the backlog of the idle ones may still be being accepted and closed)
  CHECK(waitUntilServing(primary.port(), scaled(15s)));
  const std::string endpoint = "127.0.0.1:" + std::to_string(primary.port());
  const std::string log =
      primary.process().waitForStderr("accepting connections on " + endpoint + " again", 5s);
  CHECK(countOf(log, "cannot accept connections on " + endpoint + ": Too many open files") == 1);
  CHECK(countOf(log, "accepting connections on " + endpoint + " again") == 1);
  CHECK(countOf(log, "accept failed") == 0);
}
