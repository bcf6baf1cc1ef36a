// read_your_writes: one primary, one replica with --http, the writer at 100 tx/s. After each
// commit the writer asks the primary POST /sync, then the replica GET /wait for the position it
// answered, then reads its row on the replica in a fresh read transaction
// (docs/read-your-writes.md). Reports the latencies of /sync, of /wait and of the whole
// commit-to-confirmed round, and the rows the read missed (a target of 0).
#include <sqlite3.h>

#include <nlohmann/json.hpp>

#include "bench/http_get.h"
#include "bench/latency_stats.h"
#include "bench/row_writer.h"
#include "bench/rows_cluster.h"
#include "bench/scenarios.h"
#include "core/sqlite_conn.h"
#include "tests/support/temp_dir.h"

namespace walstream::bench {

namespace {

constexpr int kRate = 100;
constexpr int64_t kMaxRows = 100'000'000;  // the duration ends the phase
constexpr auto kRequestTimeout = std::chrono::seconds(10);

double millisSince(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

struct RoundTrips {
  std::vector<double> syncMs, waitMs, totalMs;
  int64_t missed = 0;
};

}  // namespace

void runReadYourWritesScenario(const BenchConfig& config, ScenarioResult& result) {
  test::TempDir dir;
  RowsCluster cluster(config, dir.path(), 1, /*replicaStatus=*/true);
  const uint16_t primaryPort = cluster.primary().port();
  const uint16_t replicaPort = cluster.replica(0).statusPort();
  SqliteConnection reader(cluster.replica(0).localDb(), SQLITE_OPEN_READONLY);
  int64_t lastId = SqliteConnection(cluster.appDb(), SQLITE_OPEN_READONLY)
                       .queryInt("SELECT coalesce(max(id), 0) FROM rows");
  RoundTrips trips;
  RowWriter writer(cluster.appDb());
  const WriteRun run =
      writer.write({kRate, config.duration, kMaxRows, /*recordCommitTimes=*/false}, [&] {
        const auto committed = std::chrono::steady_clock::now();
        const int64_t id = ++lastId;
        const std::string synced =
            httpCall("POST", primaryPort, "/sync?timeout=5s", kRequestTimeout);
        trips.syncMs.push_back(millisSince(committed));
        const std::string pos = nlohmann::json::parse(synced).at("pos").get<std::string>();
        const auto waitStart = std::chrono::steady_clock::now();
        httpGet(replicaPort, "/wait?timeout=5s&pos=" + pos, kRequestTimeout);
        trips.waitMs.push_back(millisSince(waitStart));
        if (reader.queryInt("SELECT count(*) FROM rows WHERE id = " + std::to_string(id)) != 1) {
          ++trips.missed;
        }
        trips.totalMs.push_back(millisSince(committed));
      });
  result.metric("writer_rows", static_cast<double>(run.rows));
  result.metric("writer_rate_tx_per_s", run.rowsPerSecond());
  reportMillis(result, "sync", trips.syncMs);
  reportMillis(result, "wait", trips.waitMs);
  reportMillis(result, "read_your_write", trips.totalMs);
  result.metric("rows_missed", static_cast<double>(trips.missed));
  result.target("rows read back missing after /wait", "0", static_cast<double>(trips.missed),
                trips.missed == 0);
  result.note(
      "each round: COMMIT, POST /sync on the primary, GET /wait on the replica, SELECT "
      "on the replica; new connections per request (HTTP/1.0)");
  cluster.stop();
}

}  // namespace walstream::bench
