// /stream against the real binary: where a stream starts (snapshot or resume), live segments,
// the opt-in extensions, and a generation change. Every stream is replayed onto a file and
// compared with the primary's rows.
#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>

#include "core/byte_order.h"
#include "core/lz4_codec.h"
#include "core/sqlite_conn.h"
#include "proto/snapshot_chain.h"
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

namespace {

std::string streamTarget(const std::string& query) {
  return "/stream?db=app.db" + (query.empty() ? "" : "&" + query);
}

std::string checksumParam(const Checksum& c) {
  return formatHex16((uint64_t{c.s0} << 32) | c.s1);
}

// Follows a fresh stream until it matches the primary; returns the replay.
void followToEqual(uint16_t port, const std::string& db, StreamReplay& replay,
                   const std::string& query = "") {
  HttpStream s(port, streamTarget(query));
  REQUIRE(s.status() == 200);
  REQUIRE(replayUntilEqual(s, replay, db, 30s));
}

}  // namespace

TEST_CASE("an empty position gets a snapshot, then live segments, replaying to the primary") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  insertRows(db, 50, 200, 10);
  PrimaryProcess primary(db, dir.file("primary"));
  waitForCapture(primary.port());

  HttpStream s(primary.port(), "/stream?db=app.db");
  REQUIRE(s.status() == 200);
  CHECK(s.header("Content-Type") == "application/octet-stream");
  CHECK(s.header("Transfer-Encoding") == "chunked");
  CHECK(s.header("Walstream-Page-Size") == "4096");
  CHECK(s.header("Litestream-page-size") == "4096");

  auto first = readRecord(s, 20s);
  REQUIRE(first);
  CHECK(first->header.type == 1);
  CHECK(first->header.flags == 0);
  CHECK(first->header.size == first->payload.size());
  CHECK(first->payload.size() % 4096 == 0);
  CHECK(first->payload.compare(0, 16, std::string("SQLite format 3\0", 16)) == 0);
  StreamReplay replay(dir.file("replay.db"), db + "-walstream");
  replay.apply(*first);
  CHECK(replay.dump() == dumpDatabase(db));

  DbWriter writer(db, {.rows = 200, .rowsPerTransaction = 2, .payloadBytes = 300});
  CHECK(writer.wait() == "");
  REQUIRE(replayUntilEqual(s, replay, db, 30s));
  CHECK(replay.snapshots() == 1);
  CHECK(replay.segments() > 0);
  CHECK(replay.position() == primaryPosition(primary.port(), "app.db"));
}

TEST_CASE("a snapshot in the middle of a WAL index carries the chain at its position") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  PrimaryProcess primary(db, dir.file("primary"));
  waitForCapture(primary.port());
  {
    // No WAL restart: the snapshot lands past the start of index 0.
    HttpStream atStart(primary.port(), "/stream?db=app.db");
    REQUIRE(atStart.status() == 200);
    CHECK(atStart.header("Walstream-Snapshot-Chain").empty());  // offset 0: the header seeds it
  }
  insertRows(db, 30, 200, 3);
  waitForCapture(primary.port());
  HttpStream s(primary.port(), "/stream?db=app.db");
  REQUIRE(s.status() == 200);
  auto first = readRecord(s, 20s);
  REQUIRE(first);
  REQUIRE(first->header.type == 1);
  REQUIRE(first->header.offset > 0);
  const WalChainState chain = chainStateFromShadow(db + "-walstream", first->header.pos());
  CHECK(s.header("Walstream-Snapshot-Chain") == proto::formatSnapshotChain(chain));
  // A later resume at the snapshot's position with that checksum is accepted without a snapshot.
  HttpStream resume(primary.port(), streamTarget("pos=" + first->header.pos().str() +
                                                 "&checksum=" + checksumParam(chain.checksum)));
  REQUIRE(resume.status() == 200);
  insertRows(db, 3, 200, 1);
  auto next = readRecord(resume, 20s);
  REQUIRE(next);
  CHECK(next->header.type == 2);
  CHECK(next->header.pos() == first->header.pos());
}

TEST_CASE("a client at a segment boundary resumes there with no snapshot") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  PrimaryProcess primary(db, dir.file("primary"));
  waitForCapture(primary.port());
  insertRows(db, 20, 100);

  StreamReplay replay(dir.file("replay.db"), db + "-walstream");
  followToEqual(primary.port(), db, replay);
  const Pos resumeAt = replay.position();
  REQUIRE(resumeAt.offset > 0);

  insertRows(db, 30, 100, 3);
  SUBCASE("pos=") {
    HttpStream s(primary.port(), streamTarget("pos=" + resumeAt.str()));
    REQUIRE(s.status() == 200);
    auto r = readRecord(s, 20s);
    REQUIRE(r);
    CHECK(r->header.type == 2);
    CHECK(r->header.pos() == resumeAt);
    replay.apply(*r);
    CHECK(replayUntilEqual(s, replay, db, 30s));
    CHECK(replay.snapshots() == 1);
  }
  SUBCASE("path= with the full path, and the older generation=&index= spelling") {
    HttpStream s(primary.port(), "/stream?path=" + db +
                                     "&generation=" + formatHex16(resumeAt.generation) +
                                     "&index=" + formatHex16(resumeAt.index));
    REQUIRE(s.status() == 200);
    auto r = readRecord(s, 20s);
    REQUIRE(r);
    CHECK(r->header.type == 2);
    CHECK(r->header.pos() == Pos{resumeAt.generation, resumeAt.index, 0});
  }
  SUBCASE("the current end, with nothing new yet, waits for the next segment") {
    StreamReplay tail(dir.file("tail.db"), db + "-walstream");
    followToEqual(primary.port(), db, tail);
    const Pos end = tail.position();
    REQUIRE(end == primaryPosition(primary.port(), "app.db"));
    HttpStream s(primary.port(), streamTarget("pos=" + end.str()));
    REQUIRE(s.status() == 200);
    CHECK_FALSE(readRecord(s, 300ms));  // nothing to send yet, and no snapshot
    insertRows(db, 1, 100);
    auto r = readRecord(s, 20s);
    REQUIRE(r);
    CHECK(r->header.type == 2);
    CHECK(r->header.pos() == end);
    tail.apply(*r);
    CHECK(tail.dump() == dumpDatabase(db));
  }
}

TEST_CASE(
    "a client resuming right after live segments, before their files exist, gets no snapshot") {
  // Live segments are sent before their segment file is written (a few milliseconds later):
  // a client that reconnects at once asks for a position the files do not reach yet.
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  PrimaryProcess primary(db, dir.file("primary"));
  waitForCapture(primary.port());
  StreamReplay replay(dir.file("replay.db"), db + "-walstream");
  HttpStream live(primary.port(), streamTarget("pos="));
  REQUIRE(live.status() == 200);
  for (int round = 0; round < 20; ++round) {
    CAPTURE(round);
    insertRows(db, 1, 100);
    auto r = readRecord(live, 20s);
    REQUIRE(r);
    replay.apply(*r);
    if (r->header.type == 1) continue;  // the first snapshot
    // The segment just arrived; resume at its end immediately.
    HttpStream s(primary.port(), streamTarget("pos=" + replay.position().str()));
    REQUIRE(s.status() == 200);
    insertRows(db, 1, 100);
    auto next = readRecord(s, 20s);
    REQUIRE(next);
    CHECK(next->header.type == 2);
    CHECK(next->header.pos() == replay.position());
    auto same = readRecord(live, 20s);  // the live stream sends the same segment
    REQUIRE(same);
    CHECK(same->header.pos() == next->header.pos());
    CHECK(same->payload == next->payload);
    replay.apply(*same);
  }
  CHECK(replayUntilEqual(live, replay, db, 30s));
  CHECK(replay.snapshots() == 1);
}

TEST_CASE("positions the primary cannot resume from get a snapshot") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  PrimaryProcess primary(db, dir.file("primary"));
  waitForCapture(primary.port());
  insertRows(db, 20, 100, 2);
  insertRows(db, 1, 20000);  // one transaction of several frames: the last segment
  StreamReplay replay(dir.file("replay.db"), db + "-walstream");
  followToEqual(primary.port(), db, replay);
  const Pos end = replay.position();
  REQUIRE(end.offset > 4096 + 24);

  const std::vector<Pos> unusable = {
      {end.generation, end.index, end.offset - (4096 + 24)},  // inside the last segment
      {end.generation, end.index, end.offset + (4096 + 24)},  // beyond the end
      {end.generation, end.index + 1, 0},                     // beyond the end
      {end.generation ^ 1, end.index, end.offset},            // another generation
  };
  for (const Pos& p : unusable) {
    CAPTURE(p.str());
    HttpStream s(primary.port(), streamTarget("pos=" + p.str()));
    REQUIRE(s.status() == 200);
    auto r = readRecord(s, 20s);
    REQUIRE(r);
    CHECK(r->header.type == 1);
    CHECK(r->header.pos() == end);
  }
}

TEST_CASE("checksum=: a matching resume check resumes, a mismatch gets a snapshot") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  PrimaryProcess primary(db, dir.file("primary"));
  waitForCapture(primary.port());
  insertRows(db, 20, 100, 2);
  StreamReplay replay(dir.file("replay.db"), db + "-walstream");
  followToEqual(primary.port(), db, replay);
  const Pos at = replay.position();
  const Checksum ours = replay.chain().checksum;
  insertRows(db, 5, 100);

  {
    HttpStream s(primary.port(),
                 streamTarget("pos=" + at.str() + "&checksum=" + checksumParam(ours)));
    auto r = readRecord(s, 20s);
    REQUIRE(r);
    CHECK(r->header.type == 2);
    CHECK(r->header.pos() == at);
  }
  {
    const Checksum wrong{ours.s0 ^ 1, ours.s1};
    HttpStream s(primary.port(),
                 streamTarget("pos=" + at.str() + "&checksum=" + checksumParam(wrong)));
    auto r = readRecord(s, 20s);
    REQUIRE(r);
    CHECK(r->header.type == 1);
    StreamReplay fresh(dir.file("fresh.db"), db + "-walstream");
    fresh.apply(*r);
    CHECK(replayUntilEqual(s, fresh, db, 30s));
    CHECK(primary.process().stderrText().find("checksum mismatch at " + at.str()) !=
          std::string::npos);
  }
}

TEST_CASE("compress=1 sends the snapshot as one LZ4 frame of the same image") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  insertRows(db, 300, 50, 100);
  PrimaryProcess primary(db, dir.file("primary"));
  waitForCapture(primary.port());

  HttpStream plain(primary.port(), streamTarget(""));
  HttpStream packed(primary.port(), streamTarget("compress=1"));
  auto a = readRecord(plain, 20s);
  auto b = readRecord(packed, 20s);
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->header.flags == 0);
  CHECK(b->header.flags == proto::kFlagCompressed);
  CHECK(a->header.pos() == b->header.pos());
  CHECK(b->payload.size() == b->header.size);
  CHECK(b->payload.size() < a->payload.size());
  CHECK(lz4Decompress(asBytes(b->payload), 1 << 30) == a->payload);

  // The stream goes on after a compressed snapshot like after a raw one.
  StreamReplay replay(dir.file("replay.db"), db + "-walstream");
  replay.apply(*b);
  insertRows(db, 10, 50);
  CHECK(replayUntilEqual(packed, replay, db, 30s));
}

TEST_CASE("heartbeat= sends heartbeat records with the position, time and checksum") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  insertRows(db, 10, 100);
  PrimaryProcess primary(db, dir.file("primary"));
  waitForCapture(primary.port());

  HttpStream s(primary.port(), streamTarget("heartbeat=150"));
  StreamReplay replay(dir.file("replay.db"), db + "-walstream");
  REQUIRE(replayUntilEqual(s, replay, db, 30s));
  int heartbeats = 0;
  for (int i = 0; i < 50 && heartbeats < 2; ++i) {
    auto r = readRecord(s, 5s);
    REQUIRE(r);
    REQUIRE(r->header.type == 3);
    ++heartbeats;
    CHECK(r->header.pos() == replay.position());
    REQUIRE(r->payload.size() == 16);
    const auto* p = reinterpret_cast<const uint8_t*>(r->payload.data());
    const auto now = std::chrono::duration_cast<std::chrono::microseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    const auto sent = static_cast<int64_t>(loadBE64(p));
    CHECK(sent <= now);
    CHECK(sent > now - 60'000'000);
    CHECK(Checksum{loadBE32(p + 8), loadBE32(p + 12)} == replay.chain().checksum);
  }
  CHECK(heartbeats == 2);
}

TEST_CASE("after a generation change a client at the old position starts over with a snapshot") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  insertRows(db, 20, 100);
  Pos old;
  {
    PrimaryProcess primary(db, dir.file("primary1"));
    waitForCapture(primary.port());
    HttpStream s(primary.port(), streamTarget(""));
    StreamReplay replay(dir.file("replay.db"), db + "-walstream");
    REQUIRE(replayUntilEqual(s, replay, db, 30s));
    old = replay.position();
    // Stopping the primary ends its streams cleanly: the client reconnects.
    primary.process().signal(SIGTERM);
    CHECK(s.waitForEnd(20s) == BodyEnd::kComplete);
    CHECK(primary.process().wait(20s) == 0);
  }
  {
    // The WAL restarts without walstream: the shadow WAL's tail no longer matches it.
    SqliteConnection c(db);
    c.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  insertRows(db, 10, 100);
  PrimaryProcess primary(db, dir.file("primary2"));
  waitForCapture(primary.port());
  const Pos now = primaryPosition(primary.port(), "app.db");
  REQUIRE(now.generation != old.generation);

  HttpStream s(primary.port(), streamTarget("pos=" + old.str()));
  auto r = readRecord(s, 20s);
  REQUIRE(r);
  CHECK(r->header.type == 1);
  CHECK(r->header.generation == now.generation);
  StreamReplay replay(dir.file("replay2.db"), db + "-walstream");
  replay.apply(*r);
  CHECK(replayUntilEqual(s, replay, db, 30s));
}

TEST_CASE("streams follow WAL restarts; a client at the end of a finished index resumes") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  PrimaryProcess primary(db, dir.file("primary"),
                         {"--min-checkpoint-pages", "4", "--shadow-retention", "2"});
  waitForCapture(primary.port());
  HttpStream s(primary.port(), streamTarget(""));
  StreamReplay replay(dir.file("replay.db"), db + "-walstream");

  // Small transactions until the WAL has restarted a few times.
  for (int i = 0; i < 200 && primaryPosition(primary.port(), "app.db").index < 4; ++i) {
    insertRows(db, 2, 1500);
  }
  REQUIRE(primaryPosition(primary.port(), "app.db").index >= 4);

  Pos lastIndexEnd;  // where the stream stood when the last index began
  const std::string want = dumpDatabase(db);
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (replay.position().empty() || replay.dump() != want) {
    REQUIRE(std::chrono::steady_clock::now() < deadline);
    auto r = readRecord(s, 20s);
    REQUIRE(r);
    if (r->header.type == 2 && !replay.position().empty() &&
        r->header.index == replay.position().index + 1) {
      lastIndexEnd = replay.position();
    }
    replay.apply(*r);
  }
  const Pos end = replay.position();
  REQUIRE(end == primaryPosition(primary.port(), "app.db"));
  REQUIRE(lastIndexEnd.index == end.index - 1);

  {
    HttpStream resumed(primary.port(), streamTarget("pos=" + lastIndexEnd.str()));
    auto r = readRecord(resumed, 20s);
    REQUIRE(r);
    CHECK(r->header.type == 2);
    CHECK(r->header.pos() == Pos{end.generation, end.index, 0});
  }
  {
    // Index 0 is past the retention of 2 indexes: a client there needs a snapshot.
    HttpStream old(primary.port(), streamTarget("pos=" + Pos{end.generation, 0, 0}.str()));
    auto r = readRecord(old, 20s);
    REQUIRE(r);
    CHECK(r->header.type == 1);
  }
}
