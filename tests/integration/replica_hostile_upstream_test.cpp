// The replica against an upstream that lies (a small hostile primary: CannedHttpServer with a
// handler), with the real binary: nothing it sends is installed, applied or held in memory
// unchecked, nothing it leaves half-written stays on disk, a connection on which it claims
// more than it sends is dropped, and neither endless framing, segments that understate their
// size, nor a body sent a byte at a time hold the replica's memory or its time.
#include <doctest/doctest.h>
#include <signal.h>

#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>

#include "core/file_util.h"
#include "core/lz4_codec.h"
#include "tests/support/canned_http_server.h"
#include "tests/support/contains.h"
#include "tests/support/hostile_stream.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/process_usage.h"
#include "tests/support/replica_with_status.h"
#include "tests/support/sanitizers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;
using proto::RecordType;

namespace {

constexpr uint32_t kPageSize = 4096;
constexpr uint64_t kGen = 0x0123456789abcdefULL;

const std::string kNotReady =
    "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

// A replica of dir/replica.db following `upstream`, with --http on an ephemeral port.
struct Replica : ReplicaWithStatus {
  Replica(const TempDir& dir, const std::string& upstream, std::vector<std::string> extra = {})
      : ReplicaWithStatus(dir, [&] {
          std::vector<std::string> flags{"--upstream", upstream, "--db", "app.db"};
          flags.insert(flags.end(), extra.begin(), extra.end());
          return flags;
        }()) {}
};

std::string snapshotRecord(const std::string& image) {
  return streamRecord(RecordType::kSnapshot, {kGen, 0, 0}, image);
}

// Peak resident memory of a process (VmHWM), in bytes.
uint64_t peakRss(pid_t pid) {
  return peakResidentKiB(pid) * 1024;
}

// What the replica may hold at its peak while a hostile upstream sends hundreds of MiB that it
// must not keep: its own memory plus a batch (16 MiB), a 1 MiB socket read and a segment, with
// room for AddressSanitizer's padding and quarantine.
constexpr uint64_t kBoundedPeak = uint64_t{192} << 20;

}  // namespace

TEST_CASE("a snapshot of random pages behind a valid header is refused, and retried") {
  TempDir dir;
  const std::string good = sqliteImage(dir, kPageSize);
  std::string bad = good;
  std::mt19937 rng(7);
  for (size_t i = 100; i < bad.size(); ++i) bad[i] = static_cast<char>(rng());
  std::atomic<int> served{0};
  CannedHttpServer primary([&](int fd, const std::string&) {
    // The first two answers are the random image, then the real one, then none.
    const int n = served++;
    if (n > 2) {
      primary.sendAll(fd, kNotReady);
      return;
    }
    primary.sendAll(fd, streamResponseHead(kPageSize) + snapshotRecord(n < 2 ? bad : good));
  });
  Replica replica(dir, primary.url());
  REQUIRE(primary.waitForRequests(2, 30s) >= 2);
  const auto refused = replica.waitStatus(
      [](const auto& s) { return contains(s["last_error"].template get<std::string>(), "quick"); });
  CHECK(contains(refused["last_error"].get<std::string>(), "is refused"));
  CHECK(contains(replica.process.stderrText(), "is refused"));
  // Retried with backoff until a good image came, which is installed.
  const auto applied =
      replica.waitStatus([](const auto& s) { return s["snapshots_applied"] == 1; });
  CHECK(applied["snapshots_applied"] == 1);
  CHECK(httpRequest(replica.port, "/healthz").status == 200);
  CHECK(!pathExists(replica.db + ".walstream-snapshot"));
  replica.stop();
}

TEST_CASE("a refused snapshot never makes the replica healthy, and leaves no file") {
  TempDir dir;
  std::string bad = sqliteImage(dir, kPageSize);
  std::mt19937 rng(11);
  for (size_t i = 100; i < bad.size(); ++i) bad[i] = static_cast<char>(rng());
  CannedHttpServer primary([&](int fd, const std::string&) {
    primary.sendAll(fd, streamResponseHead(kPageSize) + snapshotRecord(bad));
  });
  Replica replica(dir, primary.url());
  REQUIRE(primary.waitForRequests(3, 30s) >= 3);
  CHECK(httpRequest(replica.port, "/healthz").status == 503);
  CHECK(replica.status()["snapshots_applied"] == 0);
  CHECK(!pathExists(replica.db));
  replica.stop();
  CHECK(!pathExists(replica.db + ".walstream-snapshot"));
}

TEST_CASE("an lz4 frame declaring 2 GiB is refused without taking the memory") {
  TempDir dir;
  // 2 GiB of zeros in whole frames after a WAL header: it fits what the header may declare,
  // and is nothing like a WAL.
  const uint64_t frames = ((uint64_t{1} << 31) - 32) / (kPageSize + 24);
  const std::string bomb = lz4Zeros(32 + frames * (kPageSize + 24));
  const std::string body = streamResponseHead(kPageSize) +
                           snapshotRecord(sqliteImage(dir, kPageSize)) +
                           streamRecord(RecordType::kWalSegment, {kGen, 0, 0}, bomb);
  CannedHttpServer primary([&](int fd, const std::string&) { primary.sendAll(fd, body); });
  Replica replica(dir, primary.url());
  const auto s = replica.waitStatus([](const auto& st) {
    return contains(st["last_error"].template get<std::string>(), "WAL header");
  });
  CHECK(contains(s["last_error"].get<std::string>(), "invalid WAL header"));
  const uint64_t peak = peakRss(replica.process.pid());
  MESSAGE("replica peak RSS: ", peak >> 20, " MiB");
  if (!kThreadSanitizer) CHECK(peak < (uint64_t{512} << 20));  // its shadow memory alone is more
  CHECK(s["transactions_applied"] == 0);
  replica.stop();
}

TEST_CASE("a snapshot beyond the free space, or cut short, leaves no file behind") {
  TempDir dir;
  std::atomic<int> served{0};
  const std::string image = sqliteImage(dir, kPageSize);
  CannedHttpServer primary([&](int fd, const std::string&) {
    const int n = served++;
    if (n == 0) {
      // 1 TiB announced; 8 MiB sent.
      primary.sendAll(
          fd, streamResponseHead(kPageSize) +
                  streamRecordHeader(RecordType::kSnapshot, {kGen, 0, 0}, uint64_t{1} << 40) +
                  image + std::string((size_t{8} << 20) - image.size(), '\0'));
    } else if (n == 1) {
      // A real size, half of it sent before the connection closes.
      primary.sendAll(
          fd, streamResponseHead(kPageSize) +
                  streamRecordHeader(RecordType::kSnapshot, {kGen, 0, 0}, size_t{2} << 20) + image +
                  std::string((size_t{1} << 20) - image.size(), '\0'));
    } else {
      primary.sendAll(fd, kNotReady);
    }
  });
  Replica replica(dir, primary.url());
  CHECK(replica.process.waitForStderr("bytes of free space beside", 30s) != "");
  REQUIRE(primary.waitForRequests(3, 30s) >= 3);
  CHECK(contains(replica.process.stderrText(), "truncated"));
  CHECK(!pathExists(replica.db + ".walstream-snapshot"));
  CHECK(!pathExists(replica.db));
  replica.stop();
}

TEST_CASE("WAL frames with page numbers no database can have are refused before applying") {
  TempDir dir;
  const std::string image = sqliteImage(dir, kPageSize);
  // A non-commit frame of page 2^31 (beyond SQLite's largest database), then one whose commit
  // frame holds a page past its own database size.
  const std::vector<std::vector<FrameSpec>> lies{
      {{0x80000000u, 0, 1}, {1, 2, 2}},
      {{1, 0, 1}, {3, 2, 2}},
  };
  std::atomic<size_t> served{0};
  CannedHttpServer primary([&](int fd, const std::string&) {
    const size_t n = served++;
    if (n >= lies.size()) {
      primary.sendAll(fd, kNotReady);
      return;
    }
    const std::string wal = walBytes(kPageSize, lies[n]);
    primary.sendAll(
        fd, streamResponseHead(kPageSize) + snapshotRecord(image) +
                streamRecord(RecordType::kWalSegment, {kGen, 0, 0}, lz4Compress(asBytes(wal))));
  });
  Replica replica(dir, primary.url());
  REQUIRE(primary.waitForRequests(3, 30s) >= 3);
  const std::string log = replica.process.waitForStderr("beyond its database size", 30s);
  CHECK(contains(log, "frame with page number 2147483648, beyond the"));
  CHECK(contains(log, "commit frame of page 3 beyond its database size of 2 pages"));
  const auto s = replica.status();
  CHECK(s["transactions_applied"] == 0);
  CHECK(s["pos"] == Pos{kGen, 0, 0}.str());
  replica.stop();
}

TEST_CASE("a primary that claims more than it sends is left after --stall-timeout") {
  TempDir dir;
  const std::string image = sqliteImage(dir, kPageSize);
  SUBCASE("heartbeats ahead of everything sent") {
    CannedHttpServer primary([&](int fd, const std::string&) {
      if (!primary.sendAll(fd, streamResponseHead(kPageSize) + snapshotRecord(image))) return;
      // Heartbeats claiming a later index, every 200 ms, for at most 30 s.
      for (int i = 0; i < 150 && !primary.stopping(); ++i) {
        if (!primary.sendAll(fd, heartbeatRecord({kGen, 5, 0}))) return;
        std::this_thread::sleep_for(200ms);
      }
    });
    Replica replica(dir, primary.url(), {"--heartbeat", "200ms", "--stall-timeout", "2s"});
    const auto stalled = replica.waitStatus([](const auto& s) { return s["stalled_ms"] > 0; });
    CHECK(stalled["connected"] == true);
    CHECK(stalled["upstream_pos"] == Pos{kGen, 5, 0}.str());
    REQUIRE(primary.waitForRequests(2, 30s) >= 2);
    CHECK(contains(replica.process.stderrText(), "no progress from"));
    CHECK(contains(replica.process.stderrText(), "its position " + Pos{kGen, 5, 0}.str()));
    replica.stop();
  }
  SUBCASE("a record sent a byte at a time") {
    CannedHttpServer primary([&](int fd, const std::string&) {
      const std::string head = streamResponseHead(kPageSize) + snapshotRecord(image) +
                               streamRecordHeader(RecordType::kWalSegment, {kGen, 0, 0}, 4096);
      if (!primary.sendAll(fd, head)) return;
      // One byte a second (within the silence limit), for at most 30 s.
      for (int i = 0; i < 30 && !primary.stopping(); ++i) {
        if (!primary.sendAll(fd, std::string(1, '\0'))) return;
        std::this_thread::sleep_for(1s);
      }
    });
    Replica replica(dir, primary.url(), {"--stall-timeout", "2s"});
    REQUIRE(primary.waitForRequests(2, 30s) >= 2);
    CHECK(contains(replica.process.stderrText(), "a record left unfinished"));
    replica.stop();
  }
}

TEST_CASE("page size headers that are not exactly one valid number are refused") {
  const std::vector<std::string> heads{
      "Walstream-Page-Size: 4294971392\r\n",
      "Walstream-Page-Size: 4096, 8192\r\n",
      "Walstream-Page-Size: 4096\r\nWalstream-Page-Size: 8192\r\n",
      "Walstream-Page-Size: +4096\r\n",
      "Walstream-Page-Size: 4096x\r\n",
      "Walstream-Page-Size: 4096\r\nLitestream-Page-Size: 8192\r\n",
      "Litestream-Page-Size: 4096 4096\r\n",
  };
  for (const std::string& header : heads) {
    CAPTURE(header);
    TempDir dir;
    const std::string body = streamResponseHead(header) + snapshotRecord(sqliteImage(dir, 4096));
    CannedHttpServer primary([&](int fd, const std::string&) { primary.sendAll(fd, body); });
    Replica replica(dir, primary.url());
    REQUIRE(primary.waitForRequests(2, 30s) >= 2);
    CHECK(contains(replica.process.waitForStderr("page size", 10s), "sent an invalid page size"));
    CHECK(!pathExists(replica.db));
    replica.stop();
  }
}

TEST_CASE("endless chunk framing from the upstream is refused without holding it") {
  // A chunked 200 whose framing never ends: a chunk extension, or a trailer after the last
  // chunk. Up to 512 MiB of it are sent, 1 MiB at a time, until the replica closes.
  const std::string head = streamResponseHead(
      "Transfer-Encoding: chunked\r\nWalstream-Page-Size: " + std::to_string(kPageSize) + "\r\n");
  std::string framing;
  SUBCASE("a chunk extension") {
    framing = "1;";
  }
  SUBCASE("a trailer") {
    framing = "0\r\nX-Trailer: ";
  }
  CAPTURE(framing);
  TempDir dir;
  const std::string filler(size_t{1} << 20, 'a');
  std::atomic<uint64_t> sentFirst{0};
  std::atomic<int> served{0};
  CannedHttpServer primary([&](int fd, const std::string&) {
    const int n = served++;
    if (!primary.sendAll(fd, head + framing)) return;
    const uint64_t sent = primary.sendRepeated(fd, filler, uint64_t{512} << 20);
    if (n == 0) sentFirst = sent;
  });
  Replica replica(dir, primary.url());
  // The replica gives up on the first connection and makes another.
  REQUIRE(primary.waitForRequests(2, scaled(60s)) >= 2);
  const std::string log = replica.process.waitForStderr("chunk framing", scaled(10s));
  CHECK(contains(log, "stream from 127.0.0.1:" + std::to_string(primary.port()) +
                          ": more than 8192 bytes of chunk framing without its end"));
  CHECK(contains(log, "at stream offset 0"));
  const uint64_t peak = peakRss(replica.process.pid());
  MESSAGE("sent ", sentFirst.load() >> 20, " MiB on the first connection; replica peak RSS ",
          peak >> 20, " MiB");
  CHECK(sentFirst < (uint64_t{64} << 20));
  if (!kThreadSanitizer) CHECK(peak < kBoundedPeak);
  replica.stop();
}

TEST_CASE("segments that declare little and carry much are bounded by the bytes they carry") {
  // Each segment's lz4 header declares 32 bytes (less than one frame) while its record carries
  // 1 MiB; the upstream sends them back to back, up to 768 MiB, behind a valid snapshot. The
  // batch must be cut by the bytes received, not by the sizes declared, and then refused.
  TempDir dir;
  const std::string image = sqliteImage(dir, kPageSize);
  std::string batch;
  for (int i = 0; i < 16; ++i) {
    batch += streamRecord(RecordType::kWalSegment, {kGen, 0, 0},
                          lz4DeclaringLittle(32, size_t{1} << 20));
  }
  std::atomic<uint64_t> sentFirst{0};
  std::atomic<int> served{0};
  CannedHttpServer primary([&](int fd, const std::string&) {
    if (served++ > 0) {
      primary.sendAll(fd, kNotReady);
      return;
    }
    if (!primary.sendAll(fd, streamResponseHead(kPageSize) + snapshotRecord(image))) return;
    sentFirst = primary.sendRepeated(fd, batch, uint64_t{768} << 20);
  });
  Replica replica(dir, primary.url());
  REQUIRE(primary.waitForRequests(2, scaled(60s)) >= 2);
  const std::string log = replica.process.waitForStderr("declares 32 bytes", scaled(10s));
  CHECK(contains(log, "declares 32 bytes decompressed, not a whole number of"));
  const uint64_t peak = peakRss(replica.process.pid());
  MESSAGE("sent ", sentFirst.load() >> 20, " MiB on the first connection; replica peak RSS ",
          peak >> 20, " MiB");
  if (!kThreadSanitizer) CHECK(peak < kBoundedPeak);
  const auto s = replica.status();
  CHECK(s["transactions_applied"] == 0);
  CHECK(s["snapshots_applied"] == 1);
  replica.stop();
}

TEST_CASE("a body sent a byte at a time holds the replica no longer than its timeout") {
  // The body comes one byte a second (well within the 5 s timeout of each read) and would take
  // 40 s; the replica reads it within one 5 s deadline, then reports the answer and asks again.
  TempDir dir;
  std::string answer;
  std::vector<std::string> extra;
  std::string expect;
  SUBCASE("an error body") {
    answer = "HTTP/1.1 500 Oops\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n{";
    expect = "answered 500: {";
    extra = {"--db", "app.db"};
  }
  SUBCASE("the /status document, when no --db names the database") {
    answer =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n"
        "Connection: close\r\n\r\n{";
    expect = "timed out at stream offset ";
  }
  CAPTURE(answer);
  CannedHttpServer primary([&](int fd, const std::string&) {
    if (!primary.sendAll(fd, answer)) return;
    for (int i = 0; i < 40 && !primary.stopping(); ++i) {
      std::this_thread::sleep_for(1s);
      if (!primary.sendAll(fd, "x")) return;
    }
  });
  std::vector<std::string> argv{WALSTREAM_BINARY, "replica", "--upstream", primary.url()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(dir.file("replica.db"));
  Process replica(argv, dir.file("replica"));
  REQUIRE(primary.waitForRequests(1, scaled(20s)) >= 1);
  const auto first = std::chrono::steady_clock::now();
  // 5 s of reading, the backoff, and the 1 s the upstream takes to notice the close.
  CHECK(primary.waitForRequests(2, 15s) >= 2);
  const auto took = std::chrono::steady_clock::now() - first;
  MESSAGE("the second request came ",
          std::chrono::duration_cast<std::chrono::milliseconds>(took).count(),
          " ms after the first");
  CHECK(contains(replica.waitForStderr(expect, scaled(10s)), expect));
  replica.signal(SIGTERM);
  CHECK(replica.wait(scaled(20s)) == std::optional<int>(0));
}

TEST_CASE("a primary that takes longer than a connection to prepare the stream is waited for") {
  // A primary answers a stream request once the stream is prepared: a snapshot, perhaps behind
  // others in its setup queue. A replica that gave up after its 5 s connection timeout would
  // ask again and again, each time at the back of the queue, and never get one.
  TempDir dir;
  const std::string body =
      streamResponseHead(kPageSize) + snapshotRecord(sqliteImage(dir, kPageSize));
  CannedHttpServer primary([&](int fd, const std::string&) {
    // Preparing: 7 s, as a slow primary would (the delay is what is tested, not a wait).
    const auto ready = std::chrono::steady_clock::now() + 7s;
    while (!primary.stopping() && std::chrono::steady_clock::now() < ready) {
      std::this_thread::sleep_for(20ms);
    }
    primary.sendAll(fd, body);
  });
  Replica replica(dir, primary.url());
  const auto applied =
      replica.waitStatus([](const auto& s) { return s["snapshots_applied"] == 1; }, 40s);
  CHECK(applied["snapshots_applied"] == 1);
  // Asked once: the first answer was waited for.
  CHECK_FALSE(contains(replica.process.stderrText(), "timed out"));
  replica.stop();
}
