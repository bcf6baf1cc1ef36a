// compress=1 streams whose clients do not read (issue 18, finding 4): the compressed snapshot
// is made as it is sent, so held-open requests cost no disk in proportion to the database.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <thread>

#include "core/lz4_codec.h"
#include "tests/support/cluster.h"
#include "tests/support/db_writer.h"
#include "tests/support/hostile_clients.h"
#include "tests/support/http_client.h"
#include "tests/support/primary_status.h"
#include "tests/support/process_usage.h"
#include "tests/support/stream_replay.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

TEST_CASE("compress=1 requests held open cost no temporary disk") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  insertRows(db, 4000, 2000, 200);  // about 8 MiB of random, incompressible rows
  // Room for every held request's snapshot and for the two readers after them.
  PrimaryProcess primary(db, dir.file("primary"), {"--max-snapshots", "32"});
  waitForCapture(primary.port());

  SilentConnections held(primary.port(), 20, "/stream?compress=1", 4096);
  REQUIRE(held.size() == 20);
  // Long enough for every request to have its snapshot under way (the old design compressed it
  // into a temporary file within a second or two).
  uint64_t most = 0;
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (std::chrono::steady_clock::now() < deadline) {
    most = std::max(most, unlinkedOpenFileBytes(primary.process().pid()));
    std::this_thread::sleep_for(50ms);
  }
  MESSAGE("most temporary disk held: " << most << " bytes");
  CHECK(most < 1024 * 1024);

  // A client that reads still gets the whole image, as one LZ4 frame of the raw snapshot.
  HttpStream raw(primary.port(), "/stream");
  HttpStream packed(primary.port(), "/stream?compress=1");
  auto a = readRecord(raw, 30s);
  auto b = readRecord(packed, 30s);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(b->header.flags == 1);
  CHECK(b->header.generation == a->header.generation);
  CHECK(b->header.offset == a->header.offset);
  CHECK(lz4Decompress(asBytes(b->payload), 1 << 30) == a->payload);
}
