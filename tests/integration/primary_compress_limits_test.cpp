// compress=1 snapshots: the pass that reads and compresses the whole image to learn its size
// runs under an admission queue of its own, before the response header, and stops once its
// client has gone; so clients that ask and leave cannot take the workers that heartbeats (and
// stream setups) need. And a compressed snapshot that fails is logged with where it stood.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <mutex>
#include <thread>
#include <vector>

#include "tests/support/cluster.h"
#include "tests/support/db_writer.h"
#include "tests/support/hostile_clients.h"
#include "tests/support/http_client.h"
#include "tests/support/primary_status.h"
#include "tests/support/process_usage.h"
#include "tests/support/stream_replay.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

// Reads a stream on its own thread and keeps the arrival time of each heartbeat record.
class HeartbeatWatch {
 public:
  HeartbeatWatch(uint16_t port, const std::string& target) : stream_(port, target) {
    REQUIRE(stream_.status() == 200);
    thread_ = std::thread([this] {
      try {
        while (!stop_) {
          auto r = readRecord(stream_, 200ms);
          if (!r) {
            if (stream_.end() != BodyEnd::kOpen) break;
            continue;
          }
          if (r->header.type == static_cast<uint32_t>(proto::RecordType::kHeartbeat)) {
            std::lock_guard lock(mu_);
            arrivals_.push_back(Clock::now());
          }
        }
      } catch (const std::exception&) {
        // ended; the gaps show it
      }
    });
  }
  ~HeartbeatWatch() { stop(); }
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // The longest time without a heartbeat within [from, to].
  std::chrono::milliseconds longestGap(Clock::time_point from, Clock::time_point to) {
    std::lock_guard lock(mu_);
    Clock::time_point last = from;
    Clock::duration longest{0};
    for (auto t : arrivals_) {
      if (t < from) continue;
      if (t > to) break;
      longest = std::max(longest, t - last);
      last = t;
    }
    longest = std::max(longest, to - last);
    return std::chrono::duration_cast<std::chrono::milliseconds>(longest);
  }

 private:
  HttpStream stream_;
  std::atomic<bool> stop_{false};
  std::mutex mu_;
  std::vector<Clock::time_point> arrivals_;
  std::thread thread_;
};

}  // namespace

TEST_CASE("compress=1 size passes are bounded in number and stop when their clients leave") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  // About 256 MiB: a size pass takes a good part of a second, more than it takes to plan a
  // stream.
  insertRows(db, 128000, 2000, 4000);
  const uint64_t image = std::filesystem::file_size(db);
  // All 100 requests below reach the admission of passes (--max-streams would refuse some).
  PrimaryProcess primary(db, dir.file("primary"), {"--max-streams", "256"});
  const pid_t pid = primary.process().pid();
  waitForCapture(primary.port());
  // Each size pass reads the whole image from the database file (in the page cache): the bytes
  // the primary reads count the passes.
  auto imagesRead = [&](uint64_t since) { return double(bytesRead(pid) - since) / double(image); };

  // A follower that resumes at the end, with heartbeats every 200 ms: each one is a task on the
  // worker pool (the checksum at the current position).
  const Pos end = primaryPosition(primary.port(), "app.db");
  HeartbeatWatch follower(primary.port(), "/stream?pos=" + end.str() + "&heartbeat=200");

  // 100 clients ask for a compressed snapshot, each leaving as soon as its answer begins (the
  // response header, or a 503) or after 10 s (scaled: under a sanitizer every pass is slower).
  const auto began = Clock::now();
  const uint64_t readBefore = bytesRead(pid);
  const int answered =
      requestThenLeave(primary.port(), "/stream?pos=&compress=1", 100, scaled(10s));
  const auto left = Clock::now();
  // A few seconds more, for passes that would go on after their clients left (a window
  // observed, not a wait for an event).
  std::this_thread::sleep_until(left + 3s);
  const double passes = imagesRead(readBefore);
  const auto gap = follower.longestGap(began, Clock::now());
  follower.stop();
  MESSAGE(answered << " of 100 saw an answer within "
                   << std::chrono::duration<double>(left - began).count() << " s; images read: "
                   << passes << "; longest time without a heartbeat: " << gap.count() << " ms");
  CHECK(answered == 100);
  // At most --max-snapshots (8) of them had a snapshot, and so a pass; the others a 503. A pass
  // for every client that saw its header reads the image tens of times, and keeps every worker
  // busy meanwhile: setups and heartbeats wait behind the passes.
  CHECK(passes < 10.0);
  CHECK(gap < scaled(2s));

  // Clients that leave while a pass is under way (a tenth of the image read): it stops, and
  // the waiting ones never run.
  const uint64_t readBeforeLeaving = bytesRead(pid);
  {
    SilentConnections leaving(primary.port(), 4, "/stream?pos=&compress=1");
    REQUIRE(leaving.size() == 4);
    const auto deadline = Clock::now() + scaled(20s);
    while (imagesRead(readBeforeLeaving) < 0.1 && Clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    REQUIRE(imagesRead(readBeforeLeaving) >= 0.1);
  }
  std::this_thread::sleep_for(3s);  // a window observed, as above
  const double partial = imagesRead(readBeforeLeaving);
  MESSAGE("4 clients that left once a tenth of the image was read: images read " << partial);
  CHECK(partial < 0.6);

  // A client that stays is served (that the frame is the image is primary_stream_test's).
  HttpStream packed(primary.port(), "/stream?compress=1", 60s);
  REQUIRE(packed.status() == 200);
  auto head = packed.readExact(proto::kStreamRecordHeaderSize, 30s);
  REQUIRE(head);
  const auto header =
      proto::StreamRecordHeader::decode(reinterpret_cast<const uint8_t*>(head->data()));
  CHECK(header.type == static_cast<uint32_t>(proto::RecordType::kSnapshot));
  CHECK(header.flags == 1);
  CHECK(packed.readExact(1024 * 1024, 30s));
}

TEST_CASE("a compressed snapshot that cannot be read is logged with its position and progress") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  insertRows(db, 4000, 2000, 200);  // about 8 MiB
  PrimaryProcess primary(db, dir.file("primary"));
  waitForCapture(primary.port());

  // The client takes the record header and a little of the frame, then nothing while the
  // database file loses its pages underneath the snapshot (a disk that fails, a file cut by
  // another program); then it reads on and the primary finds the image short.
  HttpStream slow(primary.port(), "/stream?compress=1", 30s, "GET", 4096, kSmallestSegment);
  REQUIRE(slow.status() == 200);
  auto head = slow.readExact(proto::kStreamRecordHeaderSize, 10s);
  REQUIRE(head);
  const auto header =
      proto::StreamRecordHeader::decode(reinterpret_cast<const uint8_t*>(head->data()));
  REQUIRE(header.flags == 1);
  REQUIRE(slow.readExact(16 * 1024, 10s));
  std::filesystem::resize_file(db, 4096);
  CHECK(slow.waitForEnd(60s) == BodyEnd::kAborted);
  const std::string needle = "cannot compress the snapshot at " + header.pos().str() + " (";
  const std::string log = primary.process().waitForStderr(needle, scaled(10s));
  const size_t at = log.find(needle);
  REQUIRE_MESSAGE(at != std::string::npos, log);
  const std::string line = log.substr(at, log.find('\n', at) - at);
  MESSAGE(line);
  CHECK(line.find(" of its " + std::to_string(header.size) + " bytes sent): ") !=
        std::string::npos);
}
