// The server's seam (docs/stream-source.md): a StreamSource that is not the primary's Database
// and has neither copy rounds nor capture metrics is served like the primary for /stream,
// /status and /pos, while POST /sync is refused for it with 404 and /metrics leaves out the
// capture families.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>

#include "server/capture/database.h"
#include "server/capture/stream_source.h"
#include "server/primary_server.h"
#include "tests/support/db_writer.h"
#include "tests/support/http_client.h"
#include "tests/support/in_process_primary.h"
#include "tests/support/primary_status.h"
#include "tests/support/stream_replay.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::server;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

// Forwards the stream to a Database, without its optional capabilities, as a source that
// relays a stream rather than capturing one does.
class RelayLikeSource final : public StreamSource {
 public:
  explicit RelayLikeSource(Database& db) : db_(db) {}

  const std::string& path() const override { return db_.path(); }
  std::string name() const override { return db_.name(); }
  uint32_t pageSize() const override { return db_.pageSize(); }
  Pos position() const override { return db_.position(); }
  Pos writtenPosition() const override { return db_.writtenPosition(); }
  bool healthy() const override { return db_.healthy(); }
  std::string healthReason() const override { return db_.healthReason(); }
  const ShadowWal& shadow() const override { return db_.shadow(); }
  uint32_t maxPublishPages() const override { return db_.maxPublishPages(); }
  std::shared_ptr<SegmentIterator> openIterator(const Pos& from) override {
    return db_.openIterator(from);
  }
  std::optional<Pos> syncBarrier(std::chrono::milliseconds timeout) override {
    return db_.syncBarrier(timeout);
  }
  std::unique_ptr<SnapshotReader> openSnapshot(std::chrono::milliseconds shareWithin,
                                               const std::function<bool()>& wanted) override {
    return db_.openSnapshot(shareWithin, wanted);
  }

 private:
  Database& db_;
};

}  // namespace

TEST_CASE("stream source: a source without capture rounds streams, answers /pos, refuses /sync") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  insertRows(db, 200);
  InProcessPrimary server(db, StreamLimits{}, CaptureOptions{}, [](Database& captured) {
    return std::make_unique<RelayLikeSource>(captured);
  });
  waitForCapture(server.port(), scaled(30s));

  HttpStream stream(server.port(), "/stream?pos=&heartbeat=1000", scaled(10s));
  REQUIRE(stream.status() == 200);
  StreamReplay replay(dir.file("replay.db"), db + "-walstream");
  insertRows(db, 300, 100, 10);
  CHECK(replayUntilEqual(stream, replay, db, scaled(30s)));
  CHECK(replay.snapshots() == 1);
  CHECK(replay.segments() > 0);

  // The resume rules hold for every source: a client at the replay's position resumes there
  // (its first record is a heartbeat, not a snapshot).
  HttpStream resumed(server.port(), "/stream?heartbeat=200&pos=" + replay.position().str(),
                     scaled(10s));
  REQUIRE(resumed.status() == 200);
  const auto first = readRecord(resumed, scaled(10s));
  REQUIRE(first);
  CHECK(first->header.type == static_cast<uint32_t>(proto::RecordType::kHeartbeat));

  HttpStream pos(server.port(), "/pos", scaled(10s));
  CHECK(pos.status() == 200);
  CHECK(pos.readToEnd(scaled(10s)).find(replay.position().str()) != std::string::npos);

  HttpStream sync(server.port(), "/sync", scaled(10s), "POST");
  CHECK(sync.status() == 404);
  CHECK(sync.readToEnd(scaled(10s)).find("primary") != std::string::npos);

  HttpStream metrics(server.port(), "/metrics", scaled(10s));
  REQUIRE(metrics.status() == 200);
  const std::string text = metrics.readToEnd(scaled(10s));
  CHECK(text.find("walstream_capture_healthy{db=\"app.db\"} 1") != std::string::npos);
  CHECK(text.find("walstream_wal_bytes_copied_total") == std::string::npos);
  CHECK(text.find("walstream_sync_duration_seconds") == std::string::npos);

  const proto::PrimaryStatusJson status = fetchStatus(server.port());
  REQUIRE(status.databases.size() == 1);
  CHECK(status.databases[0].pos == replay.position().str());
  CHECK(status.databases[0].walBytes == 0);
}
