// Capture (server/capture/database.h) beside real SQLite writers, on real files.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <utility>

#include "core/error.h"
#include "core/file_util.h"
#include "core/lz4_codec.h"
#include "core/promotion_record.h"
#include "core/sqlite_conn.h"
#include "core/wal_segment.h"
#include "server/capture/database.h"
#include "server/capture/segment_file_pool.h"
#include "server/capture/wal_capture.h"
#include "tests/support/capture_thread.h"
#include "tests/support/shadow_replay.h"
#include "tests/support/slow_sync_vfs.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

void createAppDb(const std::string& path, int pageSize = 4096) {
  SqliteConnection c(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  c.exec("PRAGMA page_size=" + std::to_string(pageSize));
  c.exec("PRAGMA journal_mode=WAL");
  c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB, n INTEGER)");
  c.exec("CREATE TABLE counter(k INTEGER PRIMARY KEY, n INTEGER)");
  c.exec("INSERT INTO counter VALUES(1, 0)");
}

// Commits `count` transactions; every 50th is a multi-page one, and the application runs its
// own PASSIVE and TRUNCATE checkpoints now and then, as real applications do.
void writeTransactions(const std::string& path, int count, unsigned seed,
                       bool appCheckpoints = true) {
  SqliteConnection c(path);
  c.setBusyTimeout(5000);
  if (!appCheckpoints) c.exec("PRAGMA wal_autocheckpoint=0");
  std::mt19937 rng(seed);
  SqliteStatement ins(c, "INSERT INTO t(v, n) VALUES(randomblob(?), ?)");
  for (int i = 0; i < count; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    try {
      c.exec("BEGIN IMMEDIATE");
    } catch (const Error& e) {
      throw Error(std::string(e.what()) + " after " +
                  std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::steady_clock::now() - t0)
                                     .count()) +
                  " ms");
    }
    const int rows = i % 50 == 0 ? 40 : 1;
    for (int r = 0; r < rows; ++r) {
      ins.bind(1, int64_t{static_cast<int>(rng() % 3000) + 10}).bind(2, int64_t{i});
      ins.step();
      ins.reset();
    }
    c.exec("UPDATE counter SET n = n + 1 WHERE k = 1");
    c.exec("COMMIT");
    if (appCheckpoints && (i % 400 == 399 || i % 170 == 169)) {
      // A TRUNCATE checkpoint holds the write lock while it waits for readers, and walstream's
      // pin is a reader: applications beside walstream keep that wait short.
      c.setBusyTimeout(20);
      c.checkpoint(i % 400 == 399 ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE);
      c.setBusyTimeout(5000);
    }
  }
}

CaptureOptions smallThresholds() {
  return smallCaptureThresholds();
}

void truncateCheckpoint(const std::string& path) {
  SqliteConnection c(path);
  c.setBusyTimeout(5000);
  c.checkpoint(SQLITE_CHECKPOINT_TRUNCATE);
}

// Creates the application database with an empty WAL, and a copy of its file (returned) that
// a generation's segments are replayed onto.
std::string createAppAndBase(TempDir& dir, const std::string& app) {
  createAppDb(app);
  truncateCheckpoint(app);
  const std::string base = dir.file("base.db");
  std::filesystem::copy_file(app, base);
  return base;
}

// Replays the generation onto `base` and checks it is the application's content, with the
// counter at `transactions`.
void checkReplayEqualsApp(const std::string& app, const std::string& base, uint64_t generation,
                          int transactions) {
  ReplayResult r = replayGeneration(app + "-walstream", generation, base);
  CHECK(r.transactions >= static_cast<uint64_t>(transactions));
  CHECK(dumpDatabase(base) == dumpDatabase(app));
  SqliteConnection check(base, SQLITE_OPEN_READONLY);
  CHECK(check.queryText("PRAGMA integrity_check") == "ok");
  CHECK(check.queryInt("SELECT n FROM counter") == transactions);
}

}  // namespace

TEST_CASE("capture beside a concurrent writer replays to exactly the application's content") {
  TempDir dir;
  const std::string app = dir.file("app.db");
  const std::string base = createAppAndBase(dir, app);

  uint64_t generation = 0;
  {
    CaptureThread cap(app, smallThresholds());
    const Pos start = cap.caughtUp();
    generation = start.generation;
    std::string writerError;
    std::mutex writerErrorMu;
    auto writer = [&](unsigned seed) {
      try {
        writeTransactions(app, 3000, seed);
      } catch (const std::exception& e) {
        std::lock_guard lock(writerErrorMu);
        writerError = e.what();
      }
    };
    // One application writer: two threads committing back to back starve each other in
    // SQLite's sleeping busy handler, whatever walstream does.
    std::thread w1(writer, 1);
    w1.join();
    REQUIRE_MESSAGE(writerError.empty(), writerError);
    const Pos end = cap.caughtUp();
    CHECK(end.generation == generation);
    CHECK(end.index > 0);  // hand-offs let the WAL restart (how often depends on timing)
    CHECK(cap.db.metrics().walRestarts.load() == end.index);
    CHECK(cap.db.metrics().checkpoints[0].load() > 0);
  }
  checkReplayEqualsApp(app, base, generation, 3000);
}

TEST_CASE("a restarted capture continues its generation") {
  TempDir dir;
  const std::string app = dir.file("app.db");
  const std::string base = createAppAndBase(dir, app);
  // The application stays up (its connection keeps the WAL from being deleted) and nothing
  // checkpoints while capture is down, so the WAL still continues the shadow WAL.
  SqliteConnection appConnection(app);
  appConnection.exec("PRAGMA wal_autocheckpoint=0");
  appConnection.queryInt("SELECT count(*) FROM t");  // from now on it holds its shared lock
  CaptureOptions noCheckpoints = smallThresholds();
  noCheckpoints.minCheckpointPages = noCheckpoints.maxCheckpointPages = 1'000'000;
  noCheckpoints.checkpointInterval = std::chrono::hours(1);
  Pos first;
  {
    CaptureThread cap(app, noCheckpoints);
    cap.caughtUp();
    writeTransactions(app, 300, 3, false);
    first = cap.caughtUp();
  }
  writeTransactions(app, 5, 4, false);  // while capture is down
  Pos second;
  {
    CaptureThread cap(app, noCheckpoints);
    second = cap.caughtUp();
    writeTransactions(app, 300, 5, false);
    second = cap.caughtUp();
  }
  CHECK(second.generation == first.generation);
  CHECK_FALSE(sameGenerationBefore(second, first));
  replayGeneration(app + "-walstream", second.generation, base);
  CHECK(dumpDatabase(base) == dumpDatabase(app));
}

TEST_CASE("each cause of a generation break starts a new generation") {
  TempDir dir;
  const std::string app = dir.file("app.db");
  createAppDb(app);
  auto generationAfter = [&](auto&& whileDown) {
    whileDown();
    CaptureThread cap(app, smallThresholds());
    Pos p = cap.caughtUp();
    writeTransactions(app, 20, 9);
    return cap.caughtUp().generation == p.generation ? p.generation : 0;
  };
  const uint64_t g0 = generationAfter([] {});
  REQUIRE(g0 != 0);

  SUBCASE("the application checkpointed and restarted the WAL while capture was down") {
    const uint64_t g1 = generationAfter([&] {
      truncateCheckpoint(app);
      writeTransactions(app, 10, 10);
    });
    CHECK(g1 != g0);
  }
  SUBCASE("the WAL was deleted") {
    const uint64_t g1 = generationAfter([&] {
      truncateCheckpoint(app);
      std::filesystem::remove(app + "-wal");
      std::filesystem::remove(app + "-shm");
    });
    CHECK(g1 != g0);
  }
  SUBCASE("the shadow tail does not match the WAL") {
    const uint64_t g1 = generationAfter([&] {
      // Rewrite the last shadow segment with one changed page byte and checksums recomputed,
      // so the shadow is consistent in itself but is not the WAL's history.
      ShadowWal shadow(app + "-walstream");
      const uint64_t index = shadow.listIndexes(g0).back();
      auto segs = shadow.listSegments(g0, index);
      WalChainState chain;
      for (size_t i = 0; i + 1 < segs.size(); ++i) {
        std::string raw =
            lz4Decompress(asBytes(shadow.readSegmentData(segs[i])), kMaxWalSegmentBytes);
        parseWalSegment(asBytes(raw), segs[i].pos.offset, chain);
      }
      std::string raw =
          lz4Decompress(asBytes(shadow.readSegmentData(segs.back())), kMaxWalSegmentBytes);
      auto* bytes = reinterpret_cast<uint8_t*>(raw.data());
      size_t at = 0;
      if (segs.back().pos.offset == 0) {
        chain = WalChainState::fromHeader(
            *WalHeader::decode(std::span<const uint8_t>(bytes, kWalHeaderSize)));
        at = kWalHeaderSize;
      }
      const uint32_t P = chain.pageSize;
      bytes[at + kWalFrameHeaderSize + 100] ^= 0x5a;  // a page byte of the segment's first frame
      Checksum c = chain.checksum;
      for (; at < raw.size(); at += P + kWalFrameHeaderSize) {
        c = walChecksum(bytes + at, 8, chain.bigEndianChecksum, c);
        c = walChecksum(bytes + at + kWalFrameHeaderSize, P, chain.bigEndianChecksum, c);
        WalFrameHeader f = WalFrameHeader::decode(bytes + at);
        f.checksum = c;
        f.encode(bytes + at);
      }
      // The segment's file keeps the segments before it (a file may hold several).
      const std::string file = shadow.segmentPath({g0, index, segs.back().fileOffset});
      writeFileAtomic(file,
                      readFile(file).substr(0, segs.back().byteOffset) + lz4Compress(asBytes(raw)));
    });
    CHECK(g1 != g0);
  }
  SUBCASE("the page size changed") {
    const uint64_t g1 = generationAfter([&] {
      SqliteConnection c(app);
      c.exec("PRAGMA journal_mode=DELETE");
      c.exec("PRAGMA page_size=1024");
      c.exec("VACUUM");
      c.exec("PRAGMA journal_mode=WAL");
      c.exec("INSERT INTO counter VALUES(2, 2)");
    });
    CHECK(g1 != g0);
    ShadowWal shadow(app + "-walstream");
    CHECK(shadow.listGenerations() == std::vector<uint64_t>{g1});  // older ones deleted
  }
}

TEST_CASE("a promotion record starts a generation that keeps it as its lineage") {
  // docs/promotion.md §2. The record is present beside a generation capture could continue: the
  // state a crash leaves between the new generation's pointer and the record's removal.
  TempDir dir;
  const std::string app = dir.file("app.db");
  createAppDb(app);
  // As in "a restarted capture continues its generation": the WAL outlives capture's restarts,
  // so that only the record can start a new generation.
  SqliteConnection appConnection(app);
  appConnection.exec("PRAGMA wal_autocheckpoint=0");
  appConnection.queryInt("SELECT count(*) FROM t");
  CaptureOptions options = smallThresholds();
  options.minCheckpointPages = options.maxCheckpointPages = 1'000'000;
  options.checkpointInterval = std::chrono::hours(1);
  uint64_t g0 = 0;
  {
    CaptureThread cap(app, options);
    writeTransactions(app, 20, 11, false);
    g0 = cap.caughtUp().generation;
  }
  PromotionRecord record;
  record.position = parsePos("0123456789abcdef/0000000000000002:0000000000002040");
  record.checksum = Checksum{1, 2};
  record.salt1 = 3;
  record.salt2 = 4;
  record.db = "old.db";
  record.promotedAtMs = 1796000000000;
  savePromotionRecord(realFileSystem(), promotedRecordPath(app), record);
  uint64_t g1 = 0;
  {
    CaptureThread cap(app, options);
    g1 = cap.caughtUp().generation;
    writeTransactions(app, 20, 12, false);
    CHECK(cap.caughtUp().generation == g1);
  }
  CHECK(g1 != g0);
  CHECK_FALSE(pathExists(promotedRecordPath(app)));
  ShadowWal shadow(app + "-walstream");
  CHECK(loadPromotionRecord(shadow.lineagePath(g1)) == record);
  // Taken over once: the next start continues the generation.
  {
    CaptureThread cap(app, options);
    CHECK(cap.caughtUp().generation == g1);
  }
  CHECK(loadPromotionRecord(shadow.lineagePath(g1)) == record);
}

TEST_CASE("a damaged shadow tail is copied again from the WAL, and the generation continues") {
  // Segments become durable in batches (shadow_wal.h): after a power failure the newest ones
  // may be truncated or empty while the WAL, still pinned then, holds their frames.
  TempDir dir;
  const std::string app = dir.file("app.db");
  const std::string base = createAppAndBase(dir, app);
  CaptureOptions options = smallThresholds();
  options.minCheckpointPages = 100000;  // one WAL index throughout: nothing restarts it
  options.maxCheckpointPages = 100000;
  options.checkpointInterval = 1h;
  uint64_t generation = 0;
  std::vector<SegmentInfo> segs;
  ShadowWal shadow(app + "-walstream");
  {
    CaptureThread cap(app, options);
    generation = cap.caughtUp().generation;
    for (int i = 0; i < 6; ++i) {
      writeTransactions(app, 5, 20 + i, /*appCheckpoints=*/false);
      cap.caughtUp();
    }
    segs = shadow.listSegments(generation, 0);
    REQUIRE(segs.size() >= 4);
  }
  // The file holding a segment (a file may hold several consecutive segments).
  auto fileOf = [&](const SegmentInfo& s) {
    return shadow.segmentPath({generation, 0, s.fileOffset});
  };
  SUBCASE("a truncated segment") {
    const SegmentInfo& s = segs[segs.size() - 3];
    std::filesystem::resize_file(fileOf(s), s.byteOffset + s.size / 2);
  }
  SUBCASE("an empty segment file, with later segment files intact") {
    std::filesystem::resize_file(fileOf(segs[segs.size() - 2]), 0);
  }
  SUBCASE("a missing segment file") {
    std::filesystem::remove(fileOf(segs[segs.size() - 3]));
  }
  // A segment file is written over a pooled file's bytes (segment_file_pool.h): a power failure
  // may leave those instead of the new ones, or the old length past the new bytes.
  SUBCASE("a segment file holding an earlier segment file's bytes") {
    REQUIRE(fileOf(segs[1]) != fileOf(segs[segs.size() - 2]));
    std::filesystem::copy_file(fileOf(segs[1]), fileOf(segs[segs.size() - 2]),
                               std::filesystem::copy_options::overwrite_existing);
  }
  SUBCASE("a segment file followed by an earlier segment file's bytes") {
    REQUIRE(fileOf(segs[1]) != fileOf(segs.back()));
    const std::string stale = readFile(fileOf(segs[1]));
    std::ofstream(fileOf(segs.back()), std::ios::binary | std::ios::app) << stale;
  }
  {
    CaptureThread cap(app, options);
    CHECK(cap.caughtUp().generation == generation);
    writeTransactions(app, 5, 100, /*appCheckpoints=*/false);
    CHECK(cap.caughtUp().generation == generation);
  }
  checkReplayEqualsApp(app, base, generation, 35);
}

TEST_CASE("a rollback-journal database is switched to WAL mode") {
  TempDir dir;
  const std::string app = dir.file("app.db");
  {
    SqliteConnection c(app, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    c.exec("CREATE TABLE t(x)");
    c.exec("INSERT INTO t VALUES(1)");
  }
  CaptureThread cap(app, smallThresholds());
  cap.caughtUp();
  SqliteConnection c(app);
  CHECK(c.queryText("PRAGMA journal_mode") == "wal");
}

TEST_CASE("a missing database is an error naming the file, and capture keeps retrying") {
  TempDir dir;
  Database db(dir.file("missing.db"), smallThresholds());
  CHECK_THROWS_WITH_AS(db.open(), doctest::Contains("missing.db"), Error);
  CHECK_FALSE(db.healthy());
}

TEST_CASE("iterators receive live segments, and fail when the generation changes") {
  TempDir dir;
  const std::string app = dir.file("app.db");
  createAppDb(app);
  CaptureThread cap(app, smallThresholds());
  const Pos start = cap.caughtUp();
  auto it = cap.db.openIterator(start);
  std::atomic<int> wakeups{0};
  REQUIRE(it->armNotify([&] { ++wakeups; }));
  writeTransactions(app, 3, 11);
  const Pos end = cap.caughtUp();
  CHECK(wakeups.load() == 1);
  Pos expect = start;
  int segments = 0;
  while (auto s = it->next()) {
    CHECK(s->pos == expect);
    REQUIRE(s->data);
    std::string raw = lz4Decompress(asBytes(*s->data), kMaxWalSegmentBytes);
    expect.offset += raw.size();
    ++segments;
  }
  CHECK(segments >= 1);
  CHECK(expect == end);

  // A reopened iterator lists the same segments from disk.
  auto again = cap.db.openIterator(start);
  CHECK(again->pending() == static_cast<size_t>(segments));

  // An iterator of an older generation fails at once.
  auto stale = cap.db.openIterator({end.generation ^ 1, 0, 0});
  CHECK(stale->error().value_or("") == "generation changed");
  CHECK(stale->ending()->reason == IteratorEnd::kGenerationChanged);
}

TEST_CASE("a capture that stops ends its iterators as closed, not as a generation change") {
  TempDir dir;
  const std::string app = dir.file("app.db");
  createAppDb(app);
  std::shared_ptr<SegmentIterator> it;
  {
    CaptureThread cap(app, smallThresholds());
    it = cap.db.openIterator(cap.caughtUp());
    CHECK_FALSE(it->ending());
  }
  REQUIRE(it->ending());
  CHECK(it->ending()->reason == IteratorEnd::kClosed);
  CHECK(it->ending()->message == "capture stopped");
}

TEST_CASE("iterators opened while capture publishes get every segment once, in order") {
  // Database::openIterator lists files without its lock and lists again what was written
  // meanwhile: nothing may be missed or doubled at the seam between the listing, the in-flight
  // segments and the live appends, across WAL restarts too.
  TempDir dir;
  const std::string app = dir.file("app.db");
  createAppDb(app);
  // While armed, every listing made without the lock is followed by a commit that capture
  // writes into a file before the listing is used: the seam is crossed every time.
  std::atomic<bool> commitAfterListing{false};
  CaptureOptions options = smallThresholds();
  CaptureThread* capture = nullptr;
  options.afterUnlockedListing = [&] {
    if (!commitAfterListing.exchange(false)) return;
    writeTransactions(app, 1, 22);
    REQUIRE(capture->db.syncBarrier(scaled(10s)));
  };
  CaptureThread cap(app, options);
  capture = &cap;
  const Pos start = cap.caughtUp();
  auto checkContiguous = [&](const std::shared_ptr<SegmentIterator>& it, Pos* expect) {
    while (auto s = it->next()) {
      if (s->pos.index != expect->index) {  // the next index begins at its WAL header
        REQUIRE(s->pos.index == expect->index + 1);
        *expect = {expect->generation, expect->index + 1, 0};
      }
      REQUIRE(s->pos == *expect);
      const std::string data = s->data ? *s->data : cap.db.shadow().readSegmentData(*s);
      expect->offset += lz4Decompress(asBytes(data), kMaxWalSegmentBytes).size();
    }
    REQUIRE_FALSE(it->error());
  };
  {
    writeTransactions(app, 20, 23);
    cap.caughtUp();
    commitAfterListing = true;
    auto it = cap.db.openIterator(start);
    const Pos end = cap.caughtUp();
    CHECK_FALSE(commitAfterListing.load());
    Pos expect = start;
    checkContiguous(it, &expect);
    CHECK(expect == end);
  }
  std::atomic<bool> writing{true};
  std::jthread writer([&] {
    writeTransactions(app, 600, 21);
    writing = false;
  });
  int opened = 0;
  const auto deadline = std::chrono::steady_clock::now() + scaled(60s);
  while (writing && opened < 200 && std::chrono::steady_clock::now() < deadline) {
    auto it = cap.db.openIterator(start);
    Pos expect = start;
    checkContiguous(it, &expect);
    it->close();
    ++opened;
  }
  writer.join();
  CHECK(opened >= 2);
  auto it = cap.db.openIterator(start);
  const Pos end = cap.caughtUp();
  Pos expect = start;
  checkContiguous(it, &expect);
  CHECK(expect.generation == end.generation);
  CHECK((expect.index == end.index ? expect.offset == end.offset : expect.index + 1 == end.index));
}

TEST_CASE("a snapshot is the application's content at its position") {
  TempDir dir;
  const std::string app = dir.file("app.db");
  createAppDb(app);
  CaptureThread cap(app, smallThresholds());
  writeTransactions(app, 200, 12);
  cap.caughtUp();
  auto snap = cap.db.openSnapshot();
  const std::string image = dir.file("image.db");
  {
    UniqueFd fd = openFile(image, O_WRONLY | O_CREAT | O_TRUNC);
    uint64_t total = 0;
    for (std::string chunk; !(chunk = snap->read(64 * 1024)).empty();) {
      writeFull(fd.get(), chunk.data(), chunk.size(), image);
      total += chunk.size();
    }
    CHECK(total == snap->size());
  }
  CHECK(snap->position() == cap.db.position());
  snap.reset();
  CHECK(dumpDatabase(image) == dumpDatabase(app));
  SqliteConnection check(image, SQLITE_OPEN_READONLY);
  CHECK(check.queryText("PRAGMA integrity_check") == "ok");
}

TEST_CASE("a snapshot's bytes do not depend on how it is read") {
  TempDir dir;
  const std::string app = dir.file("app.db");
  createAppDb(app);
  CaptureThread cap(app, smallThresholds());
  writeTransactions(app, 200, 13);
  cap.caughtUp();
  // Pages both in the database file and in the current index's WAL: the overlay splits the
  // image into runs read from the file and pages taken from the WAL.
  writeTransactions(app, 7, 14);
  cap.caughtUp();
  std::string whole;
  {
    auto snap = cap.db.openSnapshot();
    for (std::string chunk; !(chunk = snap->read(1 << 30)).empty();) whole += chunk;
    CHECK(whole.size() == snap->size());
  }
  auto snap = cap.db.openSnapshot();
  const uint32_t page = snap->pageSize();
  std::string buffer(3 * page + page / 2, '\0');  // not a whole number of pages
  CHECK_THROWS_AS(snap->readInto(std::span<char>(buffer).first(page - 1)), std::logic_error);
  std::string pieces;
  for (size_t n; (n = snap->readInto(buffer)) != 0;) {
    CHECK(n % page == 0);
    CHECK(n <= 3 * page);
    pieces.append(buffer.data(), n);
  }
  CHECK(pieces.size() == snap->size());
  CHECK(pieces == whole);
  snap.reset();
  const std::string image = dir.file("image.db");
  writeFileAtomic(image, pieces);
  CHECK(dumpDatabase(image) == dumpDatabase(app));
}

TEST_CASE("an application transaction that commits while capture opens loses no frame") {
  // The application checkpointed everything while capture was down (nBackfill == mxFrame) and
  // holds a write transaction when capture starts. Its commit restarts the WAL, dropping the
  // frames written while capture was down; capture must notice and start a new generation, not
  // count the new salts as a restart of a WAL it had copied.
  TempDir dir;
  const std::string app = dir.file("app.db");
  const std::string base = createAppAndBase(dir, app);
  SqliteConnection appConnection(app);
  appConnection.setBusyTimeout(5000);
  appConnection.exec("PRAGMA wal_autocheckpoint=0");
  appConnection.queryInt("SELECT count(*) FROM t");  // holds its shared lock: the WAL stays
  Pos first;
  {
    CaptureThread cap(app, smallThresholds());
    cap.caughtUp();
    writeTransactions(app, 30, 21, false);
    first = cap.caughtUp();
  }
  writeTransactions(app, 50, 22, false);  // while capture is down: in no segment yet
  const CheckpointResult backfilled = appConnection.checkpoint(SQLITE_CHECKPOINT_PASSIVE);
  REQUIRE_FALSE(backfilled.busy);
  REQUIRE(backfilled.walFrames > 0);
  REQUIRE(backfilled.checkpointed == backfilled.walFrames);
  appConnection.exec("BEGIN IMMEDIATE");
  appConnection.exec("UPDATE counter SET n = n + 1 WHERE k = 1");

  // The transaction commits (restarting the WAL) while capture is opening, at the moment it is
  // about to wait for the application's write lock.
  CaptureOptions options = smallThresholds();
  std::atomic<int> opens{0};
  options.beforeOpenLock = [&] {
    if (opens.fetch_add(1) == 0) appConnection.exec("COMMIT");
  };
  Pos second;
  {
    CaptureThread cap(app, options);
    second = cap.caughtUp();
    writeTransactions(app, 20, 23, false);
    second = cap.caughtUp();
  }
  REQUIRE(opens.load() >= 1);
  CHECK_MESSAGE(second.generation != first.generation,
                "the WAL restarted before capture pinned it: continuity cannot be proven");
  // Had capture continued the generation, its replay would have to be the application's content.
  if (second.generation == first.generation) {
    replayGeneration(app + "-walstream", second.generation, base);
    CHECK(dumpDatabase(base) == dumpDatabase(app));
  }
}

// The application of the step-by-step tests below: autocheckpoint off, so that only capture
// checkpoints; commit(rows) adds `rows` rows of one page each in one transaction.
struct AppWriter {
  explicit AppWriter(TempDir& dir)
      : path(dir.file("app.db")), base(createAppAndBase(dir, path)), connection(path) {
    connection.setBusyTimeout(5000);
    connection.exec("PRAGMA wal_autocheckpoint=0");
  }
  void commit(int rows) {
    connection.exec("BEGIN IMMEDIATE");
    for (int r = 0; r < rows; ++r) {
      connection.exec("INSERT INTO t(v, n) VALUES(randomblob(3000), " + std::to_string(r) + ")");
    }
    connection.exec("UPDATE counter SET n = n + 1 WHERE k = 1");
    connection.exec("COMMIT");
    ++transactions;
  }
  const std::string path;
  const std::string base;  // the database before any transaction (createAppAndBase)
  SqliteConnection connection;
  int transactions = 0;
};

// A WalCapture the test drives step by step on its own thread, with what it needs.
struct SteppedCapture {
  SteppedCapture(const std::string& app, const CaptureOptions& options)
      : shadow(app + "-walstream"),
        pool(shadow.root() + "/spare"),
        capture(app, options, shadow, pool, metrics) {
    pool.fill();  // before open(), as Database does
  }
  ShadowWal shadow;
  SegmentFilePool pool;
  CaptureMetrics metrics;
  WalCapture capture;
};

TEST_CASE("a pin that the worker moved ahead of the copy is not replaced before capture copies") {
  // The worker's pin begins after the sync's copy read the header: its mark covers commits that
  // capture has not copied, and the worker's checkpoint backfills them. A job started now would
  // make durable only what was copied, and its new pin, with everything backfilled, would land
  // on READ_LOCK(0): the WAL could restart with those commits in no segment, and capture would
  // take the new salts for a proven restart.
  TempDir dir;
  AppWriter app(dir);

  CaptureOptions options = smallThresholds();
  options.minCheckpointPages = 1;
  std::atomic<int> moves{0};
  // The first job's pin: commits far more frames than a hand-off takes first land just before
  // it begins (this runs on the worker; the test thread waits for the job meanwhile).
  options.beforeMovePin = [&] {
    if (moves.fetch_add(1) == 0) app.commit(200);
  };
  SteppedCapture stepped(app.path, options);
  WalCapture& capture = stepped.capture;
  const uint64_t generation = capture.open().catchUp.end.generation;
  Pos end;
  auto sync = [&] {
    end = capture.copyNew().end;
    capture.writeSegmentFiles();
    capture.checkpointIfDue();
  };

  for (int i = 0; i < 5; ++i) app.commit(1);
  sync();  // copies them and starts the worker's first job
  capture.waitForCheckpointWorker();
  REQUIRE(moves.load() == 1);
  // The next sync's checkpoint step, before its copy sees the worker-time commits.
  capture.checkpointIfDue();
  capture.waitForCheckpointWorker();
  app.commit(1);  // restarts the WAL if nothing pins it
  for (int i = 0; i < 3; ++i) {
    sync();
    capture.waitForCheckpointWorker();
  }
  REQUIRE(end.generation == generation);
  checkReplayEqualsApp(app.path, app.base, generation, app.transactions);
}

TEST_CASE("a hand-off never copies more than a bounded amount under the application's lock") {
  // A capture that fell far behind a fast writer would copy everything behind while the
  // application's writers wait for their lock, and they would fail with SQLITE_BUSY. The
  // hand-off waits for capture to catch up instead, whether the backlog was there before it
  // asked for the lock or was committed while it waited; the WAL restarts once it has.
  TempDir dir;
  AppWriter app(dir);
  constexpr int kBacklogRows = 6000;  // one page each: about 24 MiB of frames, past 16 MiB

  CaptureOptions options = smallThresholds();
  options.minCheckpointPages = 1;
  std::atomic<int> lockWaits{0};
  bool commitAtLock = false;
  options.beforeHandOffLock = [&] {
    lockWaits.fetch_add(1);
    if (std::exchange(commitAtLock, false)) app.commit(kBacklogRows);
  };
  SteppedCapture stepped(app.path, options);
  WalCapture& capture = stepped.capture;
  CaptureMetrics& metrics = stepped.metrics;
  const uint64_t generation = capture.open().catchUp.end.generation;
  auto sync = [&] {
    capture.copyNew();
    capture.writeSegmentFiles();
    capture.checkpointIfDue();
    capture.waitForCheckpointWorker();
  };
  // Three worker passes, each asked to backfill more than a hand-off does itself: the next
  // checkpoint is a hand-off, whatever is left.
  for (int i = 0; i < 3; ++i) {
    app.commit(200);
    sync();
  }
  REQUIRE(lockWaits.load() == 0);

  // Committed before the hand-off asks for the lock: it does not ask.
  app.commit(kBacklogRows);
  capture.checkpointIfDue();
  CHECK(metrics.handOffsDeferred.load() == 1);
  CHECK(lockWaits.load() == 0);

  // Committed while it waits for the lock: it lets go of the lock without copying.
  commitAtLock = true;
  bool deferredUnderLock = false;
  for (int i = 0; i < 8 && lockWaits.load() == 0; ++i) {
    app.commit(1);
    capture.copyNew();  // the first copies the backlog
    capture.writeSegmentFiles();
    const uint64_t copied = metrics.walBytesCopied.load();
    capture.checkpointIfDue();
    capture.waitForCheckpointWorker();
    deferredUnderLock = lockWaits.load() == 1 && metrics.walBytesCopied.load() == copied;
  }
  CHECK(deferredUnderLock);
  CHECK(metrics.handOffsDeferred.load() == 2);

  // Caught up, the next hand-offs go ahead and the WAL restarts within the generation.
  const uint64_t restartsBefore = metrics.walRestarts.load();
  for (int i = 0; i < 20 && metrics.walRestarts.load() == restartsBefore; ++i) {
    app.commit(1);
    sync();
  }
  CHECK(metrics.walRestarts.load() > restartsBefore);
  CHECK(metrics.handOffsDeferred.load() == 2);
  checkReplayEqualsApp(app.path, app.base, generation, app.transactions);
}

// A WAL-mode database with one empty table and no WAL file: the last connection to close
// removed it, as an application that stopped leaves it.
void createEmptyWalApp(const std::string& app) {
  SqliteConnection c(app, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  c.exec("PRAGMA journal_mode=WAL");
  c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
}

// Capture's published position once it differs from `from`, or `from` after 10 s (scaled): the
// tests that use it set a fallback poll of an hour, so only a wake-up moves it in time.
Pos waitForPositionMove(CaptureThread& cap, const Pos& from) {
  const auto until = std::chrono::steady_clock::now() + scaled(std::chrono::seconds(10));
  while (cap.db.position() == from && std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return cap.db.position();
}

TEST_CASE("the first commit into a new WAL is captured at once, not at the fallback poll") {
  // inotify sees a transaction's frame writes, not its publication in the wal-index, so capture
  // waits a moment for the publication when the WAL holds frames beyond its copy. It did not
  // for the first frames of a new WAL (an empty WAL at start, or one the application just
  // restarted), and such a commit waited for the next write or the fallback poll.
  TempDir dir;
  const std::string app = dir.file("app.db");
  createEmptyWalApp(app);
  CaptureOptions options = smallThresholds();
  options.pollInterval = std::chrono::hours(1);
  options.minCheckpointPages = 3;  // a restart every few commits
  CaptureThread cap(app, options);
  const auto waitForMove = [&](const Pos& from) { return waitForPositionMove(cap, from); };
  const Pos opened = waitForMove(Pos{});
  REQUIRE_FALSE(opened.empty());
  SqliteConnection writer(app);
  writer.setBusyTimeout(5000);
  writer.exec("PRAGMA wal_autocheckpoint=0");
  std::set<uint64_t> indexes;
  // Until the WAL has restarted twice (a hand-off comes a few syncs after the pages pass the
  // threshold, later when its worker is slow); bounded.
  for (int i = 0; i < 100 && indexes.size() < 3; ++i) {
    const Pos before = cap.db.position();
    writer.exec("INSERT INTO t VALUES(" + std::to_string(i) + ", randomblob(100))");
    const Pos after = waitForMove(before);
    CHECK_MESSAGE(after != before,
                  "commit " << i << " was not captured; still at " << before.str());
    indexes.insert(after.index);
  }
  CHECK(indexes.size() >= 3);  // the WAL restarted at least twice on the way
}

TEST_CASE("a commit published well after its last frame was written is captured at once") {
  // A commit is published in the wal-index only after the WAL's sync; on a slow disk that comes
  // later than capture's settle after the frame writes that woke it, and nothing wakes capture
  // for the publication. It waited for the next write or the fallback poll (1 s by default).
  const SlowSyncVfs slowDisk("walstream-test-slow-sync", std::chrono::milliseconds(40));
  TempDir dir;
  const std::string app = dir.file("app.db");
  createEmptyWalApp(app);
  CaptureOptions options = smallThresholds();
  options.pollInterval = std::chrono::hours(1);
  CaptureThread cap(app, options);
  const auto waitForMove = [&](const Pos& from) { return waitForPositionMove(cap, from); };
  REQUIRE_FALSE(waitForMove(Pos{}).empty());
  SqliteConnection writer("file:" + app + "?vfs=" + slowDisk.name(),
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI);
  writer.setBusyTimeout(5000);
  writer.exec("PRAGMA synchronous=FULL");  // a WAL sync at every commit
  for (int i = 0; i < 5; ++i) {
    const Pos before = cap.db.position();
    writer.exec("INSERT INTO t VALUES(" + std::to_string(i) + ", randomblob(100))");
    CHECK_MESSAGE(waitForMove(before) != before, "commit " << i << " was not captured");
  }
}

TEST_CASE("a commit published after a sync copied, with no write after it, is captured at once") {
  // Capture woke on the frames' writes, settled, found no commit, and synced; the commit was
  // published between that sync's copy and the next wait. The events of its frames were read
  // already and the publication raises none: capture then waited for the poll interval.
  const SlowSyncVfs slowDisk("walstream-test-late-publish", std::chrono::milliseconds(400));
  TempDir dir;
  const std::string app = dir.file("app.db");
  createEmptyWalApp(app);
  std::atomic<bool> writing{false}, committed{false}, held{false};
  std::chrono::steady_clock::time_point writeStarted;
  CaptureOptions options = smallThresholds();
  options.pollInterval = std::chrono::hours(1);
  // Holds the first sync that ends well after the frames were written (their events read by
  // then) until the commit is published: the publication then falls after that sync's copy.
  options.afterSync = [&] {
    if (!writing.load() || held.load() ||
        std::chrono::steady_clock::now() - writeStarted < std::chrono::milliseconds(200)) {
      return;
    }
    held = true;
    for (const auto until = std::chrono::steady_clock::now() + scaled(10s);
         !committed.load() && std::chrono::steady_clock::now() < until;) {
      std::this_thread::sleep_for(1ms);
    }
  };
  CaptureThread cap(app, options);
  const Pos opened = waitForPositionMove(cap, Pos{});
  REQUIRE_FALSE(opened.empty());
  SqliteConnection writer("file:" + app + "?vfs=" + slowDisk.name(),
                          SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI);
  writer.setBusyTimeout(5000);
  writer.exec("PRAGMA synchronous=FULL");  // the WAL synced before the commit is published
  // The WAL's first commit writes and syncs its header before its frames: not the one measured.
  writer.exec("INSERT INTO t VALUES(0, randomblob(100))");
  const Pos before = waitForPositionMove(cap, opened);
  REQUIRE(before != opened);
  writeStarted = std::chrono::steady_clock::now();
  writing = true;
  writer.exec("INSERT INTO t VALUES(1, randomblob(100))");
  committed = true;
  const Pos after = waitForPositionMove(cap, before);
  CHECK(held.load());
  CHECK_MESSAGE(after != before, "the commit was not captured; still at " << before.str());
}
