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

#include "core/database.h"
#include "server/primary_server.h"
#include "tests/support/db_writer.h"
#include "tests/support/http_client.h"
#include "tests/support/primary_status.h"
#include "tests/support/shadow_replay.h"
#include "tests/support/stream_replay.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::server;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

// Capture and server for one database, stopped in the right order on destruction.
class InProcessPrimary {
 public:
  InProcessPrimary(const std::string& db, StreamLimits limits, CaptureOptions capture)
      : database_(db, capture) {
    capture_ = std::jthread([this](std::stop_token stop) { database_.run(stop); });
    ServerOptions options;
    options.listenAddress = "127.0.0.1:0";
    options.limits = limits;
    server_ = std::make_unique<PrimaryServer>(std::vector<Database*>{&database_}, options);
    const std::string bound = server_->boundAddress();
    port_ = static_cast<uint16_t>(std::stoi(bound.substr(bound.rfind(':') + 1)));
    loop_ = std::thread([this] { server_->run(); });
  }
  ~InProcessPrimary() {
    server_->stop();
    loop_.join();
    server_.reset();
    capture_.request_stop();
    database_.wake();
    capture_.join();
  }
  uint16_t port() const { return port_; }

 private:
  Database database_;
  std::jthread capture_;
  std::unique_ptr<PrimaryServer> server_;
  std::thread loop_;
  uint16_t port_ = 0;
};

size_t streamsListed(uint16_t port) {
  return fetchStatus(port).databases.at(0).streams.size();
}

bool waitForStreams(uint16_t port, size_t want, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (streamsListed(port) != want) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

// A client that stops reading inside a snapshot far larger than the socket buffers between it
// and the server (send buffer at most 4 MiB here, receive buffer 4 KiB) while the application
// keeps writing. `withReader`: a second client reads on its own thread meanwhile and must not
// be affected. Either way the server stays healthy: a new client gets everything afterwards.
void stuckClientIsDropped(const StreamLimits& limits, const CaptureOptions& capture,
                          bool withReader) {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  InProcessPrimary primary(db, limits, capture);
  waitForCapture(primary.port());
  insertRows(db, 640, 20000, 64);
  waitForCapture(primary.port());

  auto stuck = std::make_unique<HttpStream>(primary.port(), "/stream", 10s, "GET", 4096);
  REQUIRE(stuck->status() == 200);

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

  // The stuck client saw its stream cut, not ended as if all was well.
  CHECK(stuck->waitForEnd(30s) == BodyEnd::kAborted);
  CHECK(waitForStreams(primary.port(), withReader ? 1 : 0, 30s));
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
  stuckClientIsDropped(limits, capture, false);
}

TEST_CASE("a client whose writes make no progress is disconnected; the others keep streaming") {
  StreamLimits limits;
  // Only the stall timer can act. The healthy reader runs on a thread that a loaded machine can
  // starve for a while: it must not look stalled.
  limits.writeStallTimeout = 3s;
  stuckClientIsDropped(limits, CaptureOptions{}, true);
}
