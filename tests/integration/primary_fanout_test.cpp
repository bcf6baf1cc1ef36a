// Fan-out from one primary: many concurrent streams get the same bytes, and a client that stops
// reading costs the others nothing.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "core/pos.h"
#include "tests/support/cluster.h"
#include "tests/support/db_writer.h"
#include "tests/support/http_client.h"
#include "tests/support/primary_status.h"
#include "tests/support/shadow_replay.h"
#include "tests/support/stream_replay.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

TEST_CASE("50 concurrent streams receive identical bytes") {
  constexpr int kClients = 50;
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  PrimaryProcess primary(db, dir.file("primary"));
  waitForCapture(primary.port());
  insertRows(db, 5, 100);

  HttpStream reference(primary.port(), "/stream?db=app.db");
  StreamReplay replay(dir.file("replay.db"), db + "-walstream");
  REQUIRE(replayUntilEqual(reference, replay, db, 30s));
  const Pos start = replay.position();

  std::vector<std::unique_ptr<HttpStream>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(
        std::make_unique<HttpStream>(primary.port(), "/stream?db=app.db&pos=" + start.str()));
    REQUIRE(clients.back()->status() == 200);
  }
  REQUIRE(waitForStreams(primary.port(), kClients + 1, 20s));

  DbWriter writer(db, {.rows = 100, .rowsPerTransaction = 1, .payloadBytes = 500});
  REQUIRE(writer.wait() == "");
  REQUIRE(replayUntilEqual(reference, replay, db, 30s));
  const Pos end = replay.position();

  // Each client reads on its own thread until it has the segment ending at `end`.
  std::vector<std::string> received(kClients);
  std::vector<std::string> problems(kClients);
  std::vector<std::thread> readers;
  for (int i = 0; i < kClients; ++i) {
    readers.emplace_back([&, i] {
      try {
        const auto deadline = std::chrono::steady_clock::now() + 60s;
        Pos at = start;
        while (at != end && std::chrono::steady_clock::now() < deadline) {
          auto r = readRecord(*clients[i], 20s);
          if (!r) throw std::runtime_error("stream ended or stalled at " + at.str());
          if (r->header.type != 2) throw std::runtime_error("not a WAL segment record");
          if (!segmentMayFollow(at, r->header.pos())) {
            throw std::runtime_error("gap before " + r->header.pos().str());
          }
          const auto h = r->header.encode();
          received[i].append(reinterpret_cast<const char*>(h.data()), h.size());
          received[i] += r->payload;
          at = segmentEnd(*r);
        }
        if (at != end) throw std::runtime_error("did not reach the end in time");
      } catch (const std::exception& e) {
        problems[i] = e.what();
      }
    });
  }
  for (auto& t : readers) t.join();
  for (int i = 0; i < kClients; ++i) {
    CAPTURE(i);
    CHECK(problems[i] == "");
    CHECK(received[i].size() > 100 * 40);
    CHECK(received[i] == received[0]);
  }
}

TEST_CASE("a client that stops reading does not stall the others, and leaving is noticed") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  // The reader below is not read while the writer runs: on a loaded machine that can outlast
  // the default stall timeout, which this test is not about.
  PrimaryProcess primary(db, dir.file("primary"), {"--stall-timeout", "60s"});
  waitForCapture(primary.port());
  // A snapshot far larger than the socket buffers between the server and a client that
  // does not read (server send buffer at most 4 MiB here, client receive buffer 4 KiB).
  insertRows(db, 640, 20000, 64);
  waitForCapture(primary.port());

  auto stuck = std::make_unique<HttpStream>(primary.port(), "/stream?db=app.db", 10s, "GET", 4096);
  REQUIRE(stuck->status() == 200);
  REQUIRE(waitForStreams(primary.port(), 1, 20s));

  HttpStream reader(primary.port(), "/stream?db=app.db");
  StreamReplay replay(dir.file("replay.db"), db + "-walstream");
  DbWriter writer(db, {.rows = 200, .rowsPerTransaction = 2, .payloadBytes = 1000});
  REQUIRE(writer.wait() == "");
  // The stuck client is still inside its snapshot (checked before the slow replay below: past
  // the primary's write-stall timeout it would rightly be dropped).
  {
    const auto status = fetchStatus(primary.port());
    REQUIRE(status.databases.size() == 1);
    REQUIRE(status.databases[0].streams.size() == 2);
    int stillInSnapshot = 0;
    for (const auto& st : status.databases[0].streams) stillInSnapshot += st.pos.empty();
    CHECK(stillInSnapshot >= 1);  // the reader may not have its snapshot yet either
  }
  REQUIRE(replayUntilEqual(reader, replay, db, 60s));
  CHECK(replay.snapshots() == 1);

  // The reader is at the primary's end.
  const auto status = fetchStatus(primary.port());
  REQUIRE(status.databases.size() == 1);
  int atEnd = 0;
  for (const auto& st : status.databases[0].streams) atEnd += st.pos == replay.position().str();
  CHECK(atEnd == 1);

  // A client that goes away (or was dropped for not reading) disappears from /status.
  stuck.reset();
  CHECK(waitForStreams(primary.port(), 1, 30s));
  CHECK(primary.process().stderrText().find("ended before its first record was complete") !=
        std::string::npos);
}
