// backup_requests_s3: how many requests a continuous backup sends to S3 at a steady write rate.
// A primary backs up into a bucket on a local S3 server (s3_bench_store.h) with the default
// sync interval (config.backupSyncInterval), the writer at 1000 tx/s for the duration; the
// server logs every request it answers, and the requests of each method answered between the
// writer's start and its end are counted there and scaled to a minute. A writing request is a
// PUT (an object, or a part of a multipart upload: snapshots larger than the part size) or a
// POST (starting or completing a multipart upload, or a DeleteObjects of retention).
#include <map>
#include <string>

#include "bench/backup_store.h"
#include "bench/row_writer.h"
#include "bench/s3_bench_store.h"
#include "bench/scenarios.h"
#include "bench/walstream_process.h"
#include "tests/support/temp_dir.h"

namespace walstream::bench {

using namespace std::chrono_literals;

namespace {

constexpr int kRate = 1000;
constexpr const char* kMethods[] = {"PUT", "POST", "GET", "HEAD", "DELETE"};

std::map<std::string, size_t> requestCounts(const S3BenchStore& store) {
  std::map<std::string, size_t> out;
  for (const char* method : kMethods) out[method] = store.requestCount(method);
  return out;
}

}  // namespace

void runBackupRequestsS3Scenario(const BenchConfig& config, ScenarioResult& result) {
  test::TempDir dir;
  const S3BenchStore store(dir.file("s3"), true);
  const std::string db = dir.file("app.db");
  createRowsDatabase(db);
  WalstreamPrimary primary(config.walstream, db, dir.file("primary"),
                           backupFlags(store, config.backupSyncInterval));
  primary.waitUntilBackedUp(60s);  // the first snapshot, which is not counted
  RowWriter writer(db);
  const auto rowsDue =
      static_cast<int64_t>(std::chrono::duration<double>(config.duration).count() * kRate);
  const auto before = requestCounts(store);
  const WriteRun run = writer.write({kRate, config.duration, rowsDue, true});
  const auto after = requestCounts(store);
  primary.expectRunning("the writer's phase");
  primary.stop();

  const double perMinute = run.seconds > 0 ? 60 / run.seconds : 0;
  result.metric("rows_written", static_cast<double>(run.rows));
  result.metric("achieved_tx_per_s", run.rowsPerSecond());
  result.metric("window_s", run.seconds);
  result.metric("backup_sync_interval_ms",
                std::chrono::duration<double, std::milli>(config.backupSyncInterval).count());
  for (const char* method : kMethods) {
    const auto n = static_cast<double>(after.at(method) - before.at(method));
    result.metric(std::string(method) + "_requests_per_min", n * perMinute);
  }
  const double puts = static_cast<double>(after.at("PUT") - before.at("PUT")) * perMinute;
  result.target("PUT requests per minute at 1000 tx/s", "<= 120", puts, puts <= 120);
}

}  // namespace walstream::bench
