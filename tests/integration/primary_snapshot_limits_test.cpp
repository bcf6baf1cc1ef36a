// Snapshots being sent at once are bounded (--max-snapshots, default 8): each holds a SQLite
// read transaction (two descriptors) and an overlay of the current WAL index in memory, which
// the byte budget of the streams does not see. Beyond the bound a stream that needs a snapshot
// is answered 503 with Retry-After; streams that resume need none and are served. Streams that
// ask within a second of each other share one image (one read transaction, one overlay), but
// each still takes a place.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <string>
#include <thread>

#include "tests/support/cluster.h"
#include "tests/support/db_writer.h"
#include "tests/support/hostile_clients.h"
#include "tests/support/http_client.h"
#include "tests/support/primary_status.h"
#include "tests/support/process.h"
#include "tests/support/process_usage.h"
#include "tests/support/sanitizers.h"
#include "tests/support/stream_replay.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

// walstream_snapshots_open of the primary's /metrics: snapshot images holding a read
// transaction, however many streams share each.
int snapshotsOpen(uint16_t port) {
  std::istringstream in(httpRequest(port, "/metrics").body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("walstream_snapshots_open{", 0) == 0) {
      return std::stoi(line.substr(line.rfind(' ') + 1));
    }
  }
  return -1;
}

}  // namespace

TEST_CASE(
    "beyond --max-snapshots a stream that needs a snapshot is answered 503; resumes are served") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  insertRows(db, 2000, 2000, 200);  // about 4 MiB: far more than a stalled client's buffers
  PrimaryProcess primary(db, dir.file("primary"), {"--max-snapshots", "2"});
  waitForCapture(primary.port());
  const Pos end = primaryPosition(primary.port(), "app.db");

  // Two clients that do not read hold both places.
  auto holder1 = std::make_unique<HttpStream>(primary.port(), "/stream?pos=", 10s, "GET", 4096,
                                              kSmallestSegment);
  auto holder2 = std::make_unique<HttpStream>(primary.port(), "/stream?pos=", 10s, "GET", 4096,
                                              kSmallestSegment);
  REQUIRE(holder1->status() == 200);
  REQUIRE(holder2->status() == 200);
  // Asked for within the sharing window (1 s; the status lines came back long before), the
  // two streams read one image.
  CHECK(snapshotsOpen(primary.port()) == 1);

  const HttpResponse refused = httpRequest(primary.port(), "/stream?pos=");
  CHECK(refused.status == 503);
  CHECK(refused.header("retry-after") == "1");
  CHECK(refused.body.find("--max-snapshots") != std::string::npos);
  CHECK(snapshotsOpen(primary.port()) == 1);

  // A stream that resumes takes no place.
  HttpStream resume(primary.port(), "/stream?pos=" + end.str());
  CHECK(resume.status() == 200);

  // The places come back when the snapshots' streams end.
  holder1.reset();
  holder2.reset();
  REQUIRE(waitForStreams(primary.port(), 1, scaled(30s)));
  HttpStream again(primary.port(), "/stream?pos=");
  REQUIRE(again.status() == 200);
  auto record = readRecord(again, 30s);
  REQUIRE(record);
  CHECK(record->header.type == static_cast<uint32_t>(proto::RecordType::kSnapshot));
}

TEST_CASE("snapshot images held at once are bounded by default, large WAL indexes included") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  insertRows(db, 2000, 2000, 200);
  // The WAL is left to grow: every snapshot's image carries an overlay of all its pages. The
  // clients below never read: a long stall timeout keeps each one's snapshot (and place) for the
  // whole test, however slowly the setups run (a sanitizer's build), so that places do not free
  // up and count twice.
  PrimaryProcess primary(db, dir.file("primary"),
                         {"--min-checkpoint-pages", "20000", "--max-checkpoint-pages", "20000",
                          "--checkpoint-interval", "1h", "--stall-timeout", "10m"});
  const pid_t pid = primary.process().pid();
  waitForCapture(primary.port());
  insertRows(db, 5000, 2000, 500);  // about 10 MiB of WAL in the current index
  waitForCapture(primary.port());
  const uint64_t idleKiB = residentKiB(pid);

  // 24 clients that want a snapshot and never read it.
  constexpr int kClients = 24;
  SilentConnections streams(primary.port(), kClients, "/stream?pos=", 4096, kSmallestSegment);
  REQUIRE(streams.size() == kClients);
  int mostOpen = 0;
  uint64_t peakKiB = idleKiB;
  std::string log;
  for (const auto until = std::chrono::steady_clock::now() + scaled(30s);
       std::chrono::steady_clock::now() < until;) {
    mostOpen = std::max(mostOpen, snapshotsOpen(primary.port()));
    peakKiB = std::max(peakKiB, residentKiB(pid));
    log = primary.process().stderrText();
    // Every request answered: a snapshot under way, or a 503.
    if (countOf(log, "from a snapshot at") + countOf(log, "(--max-snapshots)") >= kClients) break;
    std::this_thread::sleep_for(50ms);
  }
  for (int i = 0; i < 10; ++i) {  // and a little longer, in case more were to open
    mostOpen = std::max(mostOpen, snapshotsOpen(primary.port()));
    peakKiB = std::max(peakKiB, residentKiB(pid));
    std::this_thread::sleep_for(50ms);
  }
  log = primary.process().stderrText();
  MESSAGE("snapshots open at most: "
          << mostOpen << "; streams started: " << countOf(log, "from a snapshot at")
          << ", refused: " << countOf(log, "(--max-snapshots)") << "; RSS " << idleKiB / 1024
          << " -> " << peakKiB / 1024 << " MiB");
  // The streams that got a place asked within the sharing window: they share one image.
  CHECK(mostOpen >= 1);
  CHECK(mostOpen <= 8);
  CHECK(countOf(log, "from a snapshot at") == 8);
  CHECK(countOf(log, "(--max-snapshots)") == kClients - 8);
  // About 10 MiB of overlay per image; 24 of them were 240 MiB and more (8 without sharing).
  if (!kAddressSanitizer && !kThreadSanitizer) CHECK(peakKiB - idleKiB < 160 * 1024);
}
