// wait_wake: how long a pending GET /wait takes to answer once its position is visible on the
// replica, alone: without the request's connection and parsing, /sync or the replication lag
// (read_your_writes measures those together). One primary, one replica with --http, the writer
// at 100 tx/s. Each round, before row i is committed:
//
//  1. GET /wait on the replica for one byte past the position it answered last (for row i-1):
//     the first position that row i's commit reaches (a WAL restart in between moves to the
//     next index, which is past it too);
//  2. GET /status on the replica, on a new connection, and its answer: the status server runs
//     on one thread and took the /wait's connection and request first, so the /wait is
//     registered and pending before the commit (in practice: the order of two connections'
//     reads is the kernel's and Asio's, not a guarantee);
//  3. COMMIT of row i on the primary; then this thread polls the replica with a stock read-only
//     SQLite connection, a fresh read transaction per poll (--poll-pause-us apart), until it
//     shows row i, while another thread blocks in recv() for the /wait's answer.
//
// wake = the /wait answer's first byte − the start of the last poll that did not show the row.
// The row became visible after that poll began, so the error (at most one poll, the pause plus
// a query) only ever makes the wake look slower. A row the first poll after the COMMIT already
// shows has no such bound (it may have been visible for a while): it is counted
// (rows_visible_at_first_poll) and left out. The /status of step 2, timed from connect to
// its first byte, is reported as a reference (status_reference): the same two thread wake-ups,
// the status server's and this process's, on the same machine at the same load.
#include <sqlite3.h>
#include <sys/prctl.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "bench/http_get.h"
#include "bench/latency_stats.h"
#include "bench/row_writer.h"
#include "bench/rows_cluster.h"
#include "bench/scenarios.h"
#include "core/error.h"
#include "core/pos.h"
#include "core/sqlite_conn.h"
#include "tests/support/temp_dir.h"

namespace walstream::bench {

namespace {

using Clock = std::chrono::steady_clock;

constexpr int kRate = 100;
constexpr int64_t kMaxRows = 100'000'000;  // the duration ends the phase
constexpr auto kRequestTimeout = std::chrono::seconds(10);
constexpr auto kVisibleTimeout = std::chrono::seconds(10);
constexpr double kWakeTargetMs = 1.0;  // issue 16: within 1 ms of the position becoming visible

double millis(Clock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// The first position past `answered` in its WAL file: reached by the next commit.
std::string positionAfter(const std::string& answered) {
  Pos p = parsePos(answered);
  ++p.offset;
  return p.str();
}

// A GET /wait sent to the replica, its answer awaited on a thread of its own.
class PendingWait {
 public:
  PendingWait(uint16_t port, const std::string& pos)
      : request_("GET", port, "/wait?timeout=1s&pos=" + pos, kRequestTimeout), thread_([this] {
          receiving_.store(true);
          receiving_.notify_all();
          try {
            body_ = request_.answer();
          } catch (const std::exception& e) {
            error_ = e.what();
          }
        }) {}
  ~PendingWait() {
    if (thread_.joinable()) thread_.join();
  }
  PendingWait(const PendingWait&) = delete;
  PendingWait& operator=(const PendingWait&) = delete;

  // Waits until the thread runs and is about to block in recv(): a new thread can wait for a
  // core for milliseconds (perf sched showed 3-5 ms on the loaded machine), and one that first
  // ran after the answer came would stamp it late.
  void awaitReceiving() { receiving_.wait(false); }

  // Waits for the answer; returns the position it names and when its first byte came.
  std::pair<std::string, Clock::time_point> answer() {
    thread_.join();
    if (!error_.empty()) throw Error("GET /wait: " + error_);
    return {nlohmann::json::parse(body_).at("pos").get<std::string>(), request_.firstByteAt()};
  }

 private:
  HttpRequestInFlight request_;
  std::string body_;
  std::string error_;
  std::atomic<bool> receiving_{false};
  std::thread thread_;  // last: started once the request is sent
};

struct WakeSamples {
  std::vector<double> wakeMs;      // visible -> /wait answered
  std::vector<double> visibleMs;   // COMMIT returned -> visible to the poll
  std::vector<double> pollMicros;  // the poll interval that bounds each visible time
  std::vector<double> statusMs;    // the barrier's GET /status: connect to its first byte
  int64_t unbounded = 0;           // rows the first poll already showed: left out of the above
};

// The moment row `id` became visible on the replica lies in (notYet, seen].
struct Visibility {
  // The start of the last poll that did not show it; none when the first poll after the
  // COMMIT returned already did (the row may have been visible before: no bound from below).
  std::optional<Clock::time_point> notYet;
  Clock::time_point seen;  // the start of the first poll that did
};

// While it lives, this thread's sleeps end within 1 ns of their time instead of the default
// 50 us, so the polls come --poll-pause-us apart (as visibility_poller.h's do).
class FineTimerSlack {
 public:
  FineTimerSlack() : previous_(::prctl(PR_GET_TIMERSLACK, 0UL, 0UL, 0UL, 0UL)) {
    ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  }
  ~FineTimerSlack() {
    ::prctl(PR_SET_TIMERSLACK, static_cast<unsigned long>(previous_), 0UL, 0UL, 0UL);
  }
  FineTimerSlack(const FineTimerSlack&) = delete;
  FineTimerSlack& operator=(const FineTimerSlack&) = delete;

 private:
  const int previous_;
};

// Polls `reader` until it shows row `id`, each poll its own read transaction.
Visibility pollUntilVisible(SqliteConnection& reader, SqliteStatement& maxId, int64_t id,
                            std::chrono::microseconds pause) {
  const auto deadline = Clock::now() + kVisibleTimeout;
  std::optional<Clock::time_point> lastMiss;
  for (;;) {
    const auto started = Clock::now();
    if (!maxId.step()) throw Error("SELECT max(id) on the replica returned no row");
    const int64_t seen = maxId.columnInt(0);
    maxId.reset();  // ends the read transaction
    if (seen >= id) return {lastMiss, started};
    lastMiss = started;
    if (started > deadline) {
      throw Error("row " + std::to_string(id) + " not visible on " + reader.path() +
                  " within 10 s");
    }
    if (pause.count() > 0) std::this_thread::sleep_for(pause);
  }
}

}  // namespace

void runWaitWakeScenario(const BenchConfig& config, ScenarioResult& result) {
  test::TempDir dir;
  RowsCluster cluster(config, dir.path(), 1, /*replicaStatus=*/true);
  const uint16_t replicaPort = cluster.replica(0).statusPort();
  SqliteConnection reader(cluster.replica(0).localDb(), SQLITE_OPEN_READONLY);
  SqliteStatement maxId(reader, "SELECT coalesce(max(id), 0) FROM rows");
  int64_t lastId = reader.queryInt("SELECT coalesce(max(id), 0) FROM rows");
  std::string applied = nlohmann::json::parse(httpGet(replicaPort, "/status", kRequestTimeout))
                            .at("pos")
                            .get<std::string>();
  WakeSamples samples;
  std::unique_ptr<PendingWait> pending;
  auto sendWait = [&] {
    pending = std::make_unique<PendingWait>(replicaPort, positionAfter(applied));
    pending->awaitReceiving();
    // Answered: the /wait is registered (see above).
    const auto asked = Clock::now();
    HttpRequestInFlight status("GET", replicaPort, "/status", kRequestTimeout);
    status.answer();
    samples.statusMs.push_back(millis(status.firstByteAt() - asked));
  };
  sendWait();
  RowWriter writer(cluster.appDb());
  const FineTimerSlack slack;
  const WriteRun run =
      writer.write({kRate, config.duration, kMaxRows, /*recordCommitTimes=*/false}, [&] {
        const auto committed = Clock::now();
        const Visibility v = pollUntilVisible(reader, maxId, ++lastId, config.pollPause);
        const auto [answeredPos, answeredAt] = pending->answer();
        applied = answeredPos;
        if (v.notYet) {
          samples.wakeMs.push_back(millis(answeredAt - *v.notYet));
          samples.visibleMs.push_back(millis(*v.notYet - committed));
          samples.pollMicros.push_back(millis(v.seen - *v.notYet) * 1000);
        } else {
          ++samples.unbounded;
        }
        sendWait();
      });
  pending.reset();  // waits out the last /wait, for a commit that never comes (408 after 1 s)
  result.metric("writer_rows", static_cast<double>(run.rows));
  reportMillis(result, "wake", samples.wakeMs);
  reportMillis(result, "commit_to_visible", samples.visibleMs);
  reportMillis(result, "status_reference", samples.statusMs);
  result.metric("poll_interval_p50_us", summarize(samples.pollMicros).p50);
  result.metric("rows_visible_at_first_poll", static_cast<double>(samples.unbounded));
  const double p99 = summarize(samples.wakeMs).p99;
  result.target("/wait wake p99 (ms)", "<= 1", p99, p99 <= kWakeTargetMs);
  result.note(
      "wake: from the start of the last replica poll that did not show the row to the first byte "
      "of the pending /wait's 200; errs late by up to one poll. status_reference: a GET /status "
      "on a new connection, the same two thread wake-ups (status server, client) on this machine");
  cluster.stop();
}

}  // namespace walstream::bench
