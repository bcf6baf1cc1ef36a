// The stall timer of the primary's writes (--stall-timeout): it cuts a client that takes no
// byte, never one that reads slowly, and it watches every write, error answers included.
#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/support/cluster.h"
#include "tests/support/db_writer.h"
#include "tests/support/hostile_clients.h"
#include "tests/support/http_client.h"
#include "tests/support/primary_status.h"
#include "tests/support/shadow_replay.h"
#include "tests/support/stream_replay.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

// A segment size common on real links (the smallest IPv4 hosts must accept). Linux sizes the
// server's send buffer from it: tens of KiB instead of the megabytes of loopback's 64 KiB
// segments, so the server's writes wait on the client's reads as they would over a network.
constexpr int kSlowLinkSegment = 536;

bool listsStreamFrom(uint16_t port, uint16_t clientPort) {
  const std::string remote = "127.0.0.1:" + std::to_string(clientPort);
  for (const auto& d : fetchStatus(port).databases) {
    for (const auto& s : d.streams) {
      if (s.remote == remote) return true;
    }
  }
  return false;
}

// Polls (bounded) until the server has closed its side of `connection`.
bool waitForServerClose(pid_t pid, const UnreadConnection& connection,
                        std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto socket = serverSocket(pid, connection);
    if (!socket || !socket->established) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(50ms);
  }
}

// Sends `answers` keep-alive /healthz requests on `connection` and waits (bounded) until the
// server has written every answer: they fill the server's send queue, the client reads none.
void queueUnreadAnswers(pid_t pid, uint16_t port, UnreadConnection& connection, int answers) {
  const uint64_t want = uint64_t(answers) * keepAliveAnswerBytes(port, "/healthz");
  connection.send(pipelinedRequests("/healthz", answers));
  const auto deadline = std::chrono::steady_clock::now() + scaled(10s);
  while (unwrittenOrUnread(pid, connection) != want &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE(unwrittenOrUnread(pid, connection) == want);
}

}  // namespace

TEST_CASE("a client that reads slowly but steadily is never cut; one that stops reading is") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  insertRows(db, 600, 2000, 100);  // a snapshot of about 1.3 MiB
  // A snapshot goes out in chunks of 256 KiB: at 64 KiB/s each takes 4 s to be taken, twice
  // the stall timeout.
  constexpr auto kStall = 2s;
  constexpr double kBytesPerSecond = 64 * 1024;
  PrimaryProcess primary(db, dir.file("primary"), {"--stall-timeout", "2s"});
  waitForCapture(primary.port());

  HttpStream slow(primary.port(), "/stream?pos=", 10s, "GET", 4096, kSlowLinkSegment);
  REQUIRE(slow.status() == 200);
  auto head = readRecordHeader(slow, 10s);
  REQUIRE(head);
  StreamRecord snapshot;
  snapshot.header = *head;
  REQUIRE(snapshot.header.type == static_cast<uint32_t>(proto::RecordType::kSnapshot));
  REQUIRE(snapshot.header.size > 1024 * 1024);

  // Meanwhile a client that takes nothing after the response header: it is cut.
  HttpStream stuck(primary.port(), "/stream?pos=", 10s, "GET", 4096, kSlowLinkSegment);
  REQUIRE(stuck.status() == 200);

  // Read at a steady 64 KiB/s, 4 KiB at a time (the pauses pace the reader; they wait for
  // nothing).
  const auto started = std::chrono::steady_clock::now();
  const auto deadline =
      started + std::chrono::seconds(snapshot.header.size / uint64_t(kBytesPerSecond)) + 60s;
  while (snapshot.payload.size() < snapshot.header.size &&
         std::chrono::steady_clock::now() < deadline) {
    const size_t want = std::min<size_t>(4096, snapshot.header.size - snapshot.payload.size());
    auto piece = slow.readExact(want, 10s);
    if (!piece) break;
    snapshot.payload += *piece;
    std::this_thread::sleep_until(started +
                                  std::chrono::microseconds(static_cast<int64_t>(
                                      double(snapshot.payload.size()) / kBytesPerSecond * 1e6)));
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  MESSAGE("read " << snapshot.payload.size() << " of " << snapshot.header.size << " bytes in "
                  << seconds << " s");
  REQUIRE_MESSAGE(snapshot.payload.size() == snapshot.header.size,
                  "the slow reader was cut: " << primary.process().stderrText());
  CHECK(slow.end() == BodyEnd::kOpen);
  StreamReplay replay(dir.file("replay.db"), db + "-walstream");
  replay.apply(snapshot);
  CHECK(replay.dump() == dumpDatabase(db));
  // The stream goes on after the snapshot: it is still listed.
  CHECK(streamsListed(primary.port()) == 1);

  // The client that took nothing was cut long ago, after about the stall timeout.
  CHECK(stuck.waitForEnd(1s) == BodyEnd::kAborted);
  const std::string log = primary.process().stderrText();
  CHECK(log.find("has taken no byte for more than " + std::to_string(kStall.count() * 1000) +
                 " ms") != std::string::npos);
}

TEST_CASE("an answer that its client does not take is dropped after the stall timeout") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  insertRows(db, 1000, 2000, 100);  // a snapshot far larger than the holder's buffers
  // One snapshot at a time: while one is being sent, a request for another is answered 503.
  PrimaryProcess primary(db, dir.file("primary"),
                         {"--stall-timeout", "4s", "--max-snapshots", "1"});
  const pid_t pid = primary.process().pid();
  waitForCapture(primary.port());

  SUBCASE("a 503 answer to /stream") {
    // The client asks for answers it does not read until the server's send buffer is full,
    // then for a stream. The snapshot's only place is taken meanwhile (a client that does not
    // read its snapshot), so the stream is refused with a 503 the client does not take either.
    UnreadConnection client(primary.port());
    queueUnreadAnswers(pid, primary.port(), client, 60);
    fillServerSendBuffer(pid, client);
    HttpStream holder(primary.port(), "/stream?pos=", 10s, "GET", 4096, kSmallestSegment);
    REQUIRE(holder.status() == 200);
    client.send(pipelinedRequests("/stream?pos=", 1));
    const std::string needle =
        "stream request from 127.0.0.1:" + std::to_string(client.localPort()) + " answered 503";
    const std::string log = primary.process().waitForStderr(needle, scaled(10s));
    REQUIRE(log.find(needle) != std::string::npos);
    CHECK(log.find("(--max-snapshots)") != std::string::npos);
    // The answer is stuck in the send buffer: the stream session is still there.
    CHECK(listsStreamFrom(primary.port(), client.localPort()));
    const auto asked = std::chrono::steady_clock::now();
    // Dropped after the stall timeout (4 s), not held with its descriptor and connection
    // place for as long as the client stays.
    const bool dropped = waitForServerClose(pid, client, 4s + scaled(6s));
    MESSAGE(std::string(dropped ? "dropped after " : "still held after ")
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - asked).count()
            << " s");
    CHECK(dropped);
    CHECK_FALSE(listsStreamFrom(primary.port(), client.localPort()));
  }

  SUBCASE("an answer to /healthz") {
    UnreadConnection client(primary.port());
    queueUnreadAnswers(pid, primary.port(), client, 60);
    fillServerSendBuffer(pid, client);
    client.send(pipelinedRequests("/healthz", 1));
    CHECK(waitForServerClose(pid, client, 4s + scaled(6s)));
  }

  // The server still answers others.
  CHECK(httpRequest(primary.port(), "/healthz").status == 200);
}
