// The per-client bounds of the primary's server (StreamLimits), with the server and capture
// running in this process so the limits can be made small: a client that falls too far behind,
// or whose writes make no progress, is disconnected while others keep streaming.
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <stop_token>
#include <thread>

#include "server/capture/database.h"
#include "server/primary_server.h"
#include "tests/support/db_writer.h"
#include "tests/support/http_client.h"
#include "tests/support/in_process_primary.h"
#include "tests/support/primary_status.h"
#include "tests/support/shadow_replay.h"
#include "tests/support/stream_replay.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::server;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

// A client that stops reading while the application keeps writing: inside a snapshot far
// larger than the socket buffers between it and the server (send buffer at most 4 MiB here,
// receive buffer 4 KiB), or, with `afterSnapshot`, once it has its snapshot, so that the live
// segments queue up for it. `withReader`: a second client reads on its own thread meanwhile and
// must not be affected. Either way the server stays healthy: a new client gets everything
// afterwards.
void stuckClientIsDropped(const StreamLimits& limits, const CaptureOptions& capture,
                          bool withReader, bool afterSnapshot) {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  InProcessPrimary primary(db, limits, capture);
  waitForCapture(primary.port());
  insertRows(db, 640, 20000, 64);
  waitForCapture(primary.port());

  auto stuck = std::make_unique<HttpStream>(primary.port(), "/stream", 10s, "GET", 4096);
  REQUIRE(stuck->status() == 200);
  if (afterSnapshot) {
    auto snapshot = readRecord(*stuck, 30s);
    REQUIRE(snapshot);
    REQUIRE(snapshot->header.type == static_cast<uint32_t>(proto::RecordType::kSnapshot));
  }

  std::optional<HttpStream> reader;
  if (withReader) reader.emplace(primary.port(), "/stream");
  std::mutex mu;
  std::deque<StreamRecord> received;
  std::string readerProblem;
  std::atomic<bool> stopReading{false};
  std::thread readerThread([&] {
    try {
      while (reader && !stopReading) {
        auto r = readRecord(*reader, 500ms);
        if (!r && reader->end() != BodyEnd::kOpen) {
          throw std::runtime_error("reader's stream ended");
        }
        if (!r) continue;
        std::lock_guard lock(mu);
        received.push_back(std::move(*r));
      }
    } catch (const std::exception& e) {
      std::lock_guard lock(mu);
      readerProblem = e.what();
    }
  });
  StreamReplay replay(dir.file("replay.db"), db + "-walstream");
  auto replayUntil = [&](auto done) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::deque<StreamRecord> batch;
      {
        std::lock_guard lock(mu);
        batch.swap(received);
      }
      if (batch.empty()) std::this_thread::sleep_for(10ms);
      for (const auto& r : batch) replay.apply(r);
    }
    return true;
  };
  // The reader has its snapshot before the writes start.
  if (withReader) CHECK(replayUntil([&] { return replay.snapshots() == 1; }));

  DbWriter writer(db, {.rows = 6000, .rowsPerTransaction = 20, .payloadBytes = 2000});
  REQUIRE(writer.wait() == "");
  const std::string want = dumpDatabase(db);
  auto caughtUp = [&] {
    return replay.position() == primaryPosition(primary.port(), "app.db") && replay.dump() == want;
  };
  if (withReader) {
    CHECK(replayUntil(caughtUp));
    stopReading = true;
  }
  readerThread.join();
  CHECK(readerProblem == "");

  // The server cuts the stuck client by itself: it must not read a byte before that, or it would
  // be a slow client that catches up. Then it sees its stream cut, not ended as if all was well.
  CHECK(waitForStreams(primary.port(), withReader ? 1 : 0, 30s));
  CHECK(stuck->waitForEnd(30s) == BodyEnd::kAborted);
  if (withReader) {
    const auto status = fetchStatus(primary.port());
    REQUIRE(status.databases.at(0).streams.size() == 1);
    CHECK(status.databases[0].streams[0].pos == replay.position().str());
  }
  HttpStream later(primary.port(), "/stream");
  StreamReplay fresh(dir.file("fresh.db"), db + "-walstream");
  CHECK(replayUntilEqual(later, fresh, db, 60s));
}

}  // namespace

TEST_CASE("a client too far behind is disconnected") {
  // Capture checkpoints small WALs, so the byte bound is not raised above 1 MiB.
  CaptureOptions capture;
  capture.minCheckpointPages = 50;
  capture.maxCheckpointPages = 100;
  StreamLimits limits;
  limits.maxPendingBytes = 1024 * 1024;
  limits.writeStallTimeout = 600s;  // only the queue bound can act
  // Segments are queued only once the snapshot is sent (server/stream_session.h).
  stuckClientIsDropped(limits, capture, false, /*afterSnapshot=*/true);
}

TEST_CASE("a client whose writes make no progress is disconnected; the others keep streaming") {
  StreamLimits limits;
  // Only the stall timer can act. The healthy reader runs on a thread that a loaded machine can
  // starve for a while: it must not look stalled (under a sanitizer's slowdown, for longer).
  limits.writeStallTimeout = scaled(3s);
  stuckClientIsDropped(limits, CaptureOptions{}, true, /*afterSnapshot=*/false);
}

TEST_CASE("a snapshot that stalls while the writer runs completes, then the stream follows") {
  // Live segments published while a client reads its snapshot are not queued for it (they are
  // read from the shadow WAL afterwards), so a snapshot that takes long (a slow or stalled link)
  // is not cut for being "too far behind", however many segments capture publishes meanwhile.
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  CaptureOptions capture;
  capture.minCheckpointPages = 200;  // WAL restarts meanwhile: several indexes to follow
  capture.maxCheckpointPages = 400;
  StreamLimits limits;
  limits.maxPendingSegments = 50;  // far fewer than are published while the snapshot stalls
  limits.maxPendingBytes = 1024 * 1024;
  InProcessPrimary primary(db, limits, capture);
  waitForCapture(primary.port());
  // A snapshot far larger than the socket buffers (at most 4 MiB here): the server is still
  // sending it while the client does not read.
  insertRows(db, 800, 20000, 20);
  waitForCapture(primary.port());

  HttpStream slow(primary.port(), "/stream", 10s, "GET", 4096);
  REQUIRE(slow.status() == 200);
  auto head = readRecordHeader(slow, 10s);
  REQUIRE(head);
  StreamRecord snapshot;
  snapshot.header = *head;
  REQUIRE(snapshot.header.type == static_cast<uint32_t>(proto::RecordType::kSnapshot));
  REQUIRE(snapshot.header.size > 12 * 1024 * 1024);
  auto piece = slow.readExact(64 * 1024, 10s);
  REQUIRE(piece);
  snapshot.payload = *piece;

  // The link stalls while the application commits many transactions, one segment or more each.
  DbWriter writer(db, {.rows = 3000,
                       .rowsPerTransaction = 1,
                       .payloadBytes = 200,
                       .pauseBetweenTransactions = 1ms,
                       .maxDuration = 60s});
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (writer.committedRows() < 500 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
  REQUIRE(writer.committedRows() >= 500);
  writer.stop();  // what follows is the stream's catching up, not a race with the writer

  // The rest of the snapshot, then the segments published meanwhile and after.
  auto rest = slow.readExact(snapshot.header.size - snapshot.payload.size(), 60s);
  REQUIRE_MESSAGE(rest, "the stream ended inside the snapshot");
  snapshot.payload += *rest;
  StreamReplay replay(dir.file("replay.db"), db + "-walstream");
  replay.apply(snapshot);
  waitForCapture(primary.port());
  const Pos end = primaryPosition(primary.port(), "app.db");
  // Equality is checked once at the end: dumping a 16 MB image per record would be slow.
  const auto until = std::chrono::steady_clock::now() + 60s;
  while (replay.position() != end && std::chrono::steady_clock::now() < until) {
    auto r = readRecord(slow, 30s);
    REQUIRE_MESSAGE(r,
                    "the stream ended at " << replay.position().str() << ", before " << end.str());
    replay.apply(*r);
  }
  CHECK(replay.position() == end);
  CHECK(replay.dump() == dumpDatabase(db));
  CHECK(replay.snapshots() == 1);
}
