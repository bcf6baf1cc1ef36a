// The read-only VFS (vfs/walstream_vfs.h, docs/vfs.md), in this process, against backups a real
// primary wrote:
//
// vfs_open_s3: a database of config.s3RestoreBytes (bulk_database.h) backed up into a bucket on
// a local S3 server (s3_bench_store.h, logging its requests), the primary stopped; then a
// connection opened through the VFS and one point lookup by primary key, timed, with the
// requests s3rver answered for it counted. The process's resident memory after the lookups
// below, less what it was before the open, is the VFS's memory (cache bound + the rest).
//
// vfs_lookups: in the same run, 1,000 random point lookups once (filling the cache), then the
// same 1,000 again, timed: the warm-cache rate.
//
// vfs_freshness_s3: a primary backing up a small table into a local S3 server with
// config.backupSyncInterval, read through the VFS with poll=1s; each round commits a row on the
// primary and times until a new read transaction through the VFS sees it.
#include <malloc.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <random>
#include <thread>

#include "bench/bulk_database.h"
#include "bench/latency_stats.h"
#include "bench/proc_stats.h"
#include "bench/s3_bench_store.h"
#include "bench/scenarios.h"
#include "bench/walstream_process.h"
#include "core/error.h"
#include "core/sqlite_conn.h"
#include "proto/query_string.h"
#include "tests/support/temp_dir.h"
#include "vfs/walstream_vfs.h"

namespace walstream::bench {

using namespace std::chrono_literals;

namespace {

// The URI of the store's backup through the VFS.
std::string vfsUri(const S3BenchStore& store, const std::string& more) {
  const std::vector<std::string> flags = store.accessFlags();  // --s3-credentials FILE
  std::string uri = "file:bench.db?vfs=walstream&backup=" + proto::percentEncode(store.url());
  if (flags.size() == 2) uri += "&s3-credentials=" + proto::percentEncode(flags[1]);
  return uri + "&" + more;
}

double secondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

size_t readRequests(const S3BenchStore& store) {
  return store.requestCount("GET") + store.requestCount("HEAD");
}

int64_t lookup(SqliteStatement& byId, int64_t id) {
  byId.reset();
  byId.bind(1, id);
  if (!byId.step()) throw Error("no row " + std::to_string(id));
  return byId.columnInt(0);
}

}  // namespace

void runVfsOpenS3Scenario(const BenchConfig& config, ScenarioResult& result) {
  test::TempDir dir;
  const S3BenchStore store(dir.file("s3"), true);
  const std::string app = dir.file("app.db");
  const uint64_t bytes = createBulkDatabase(app, config.s3RestoreBytes);
  result.metric("db_mib", static_cast<double>(bytes) / (1 << 20));
  {
    WalstreamPrimary primary(config.walstream, app, dir.file("primary"),
                             backupFlags(store, config.backupSyncInterval));
    primary.waitUntilBackedUp(600s);
    primary.stop();
  }
  if (walstream_vfs_register("walstream", 0) != SQLITE_OK) throw Error("cannot register the VFS");
  const int64_t rows =
      SqliteConnection(app, SQLITE_OPEN_READONLY).queryInt("SELECT max(id) FROM blobs");
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<int64_t> anyId(1, rows);

  // Earlier rounds in this process freed their caches into the allocator, which keeps the pages:
  // handed back first, so the growth below is this round's.
  ::malloc_trim(0);
  const uint64_t rssBefore = rssKiB(::getpid());
  const size_t requestsBefore = readRequests(store);
  const auto start = std::chrono::steady_clock::now();
  SqliteConnection c(vfsUri(store, "poll=0"), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
  SqliteStatement byId(c, "SELECT length(payload) FROM blobs WHERE id = ?");
  lookup(byId, anyId(rng));
  const double openMs = secondsSince(start) * 1000;
  const double requests = static_cast<double>(readRequests(store) - requestsBefore);
  result.metric("open_and_lookup_ms", openMs);
  result.metric("open_and_lookup_requests", requests);
  result.target("requests to open and look up one row", "<= 20", requests, requests <= 20);
  result.target("open + point lookup (ms)", "<= 200", openMs, openMs <= 200);

  std::vector<int64_t> ids(1000);
  for (int64_t& id : ids) id = anyId(rng);
  const auto cold = std::chrono::steady_clock::now();
  for (int64_t id : ids) lookup(byId, id);  // fills the cache
  result.metric("cold_lookups_per_s", static_cast<double>(ids.size()) / secondsSince(cold));
  std::this_thread::sleep_for(1s);  // s3rver's log lines of the cold pass reach its file
  const size_t requestsWarm = readRequests(store);
  const auto warm = std::chrono::steady_clock::now();
  for (int64_t id : ids) lookup(byId, id);
  const double perSecond = static_cast<double>(ids.size()) / secondsSince(warm);
  std::this_thread::sleep_for(1s);
  result.metric("warm_lookups_per_s", perSecond);
  result.metric("warm_lookup_requests", static_cast<double>(readRequests(store) - requestsWarm));
  result.target("warm point lookups per second", ">= 50000", perSecond, perSecond >= 50000);

  const double memoryMiB =
      (static_cast<double>(rssKiB(::getpid())) - static_cast<double>(rssBefore)) / 1024;
  result.metric("vfs_rss_mib", memoryMiB);
  result.target("memory beyond the 64 MiB cache bound (MiB)", "<= 16", memoryMiB - 64,
                memoryMiB <= 64 + 16);
}

void runVfsFreshnessS3Scenario(const BenchConfig& config, ScenarioResult& result) {
  test::TempDir dir;
  const S3BenchStore store(dir.file("s3"), false);
  const std::string app = dir.file("app.db");
  {
    SqliteConnection c(app, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    c.exec("PRAGMA journal_mode = WAL");
    c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, at INTEGER)");
    c.exec("INSERT INTO t VALUES (0, 0)");
  }
  WalstreamPrimary primary(config.walstream, app, dir.file("primary"),
                           backupFlags(store, config.backupSyncInterval));
  primary.waitUntilBackedUp(60s);
  if (walstream_vfs_register("walstream", 0) != SQLITE_OK) throw Error("cannot register the VFS");
  SqliteConnection reader(vfsUri(store, "poll=1s"), SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
  SqliteConnection writer(app, SQLITE_OPEN_READWRITE);
  std::vector<double> lagMs;
  const int rounds = config.quick ? 5 : 20;
  std::mt19937_64 rng(7);
  for (int round = 1; round <= rounds; ++round) {
    // Commits at a random moment relative to the poll and sync ticks.
    std::this_thread::sleep_for(std::chrono::milliseconds(rng() % 1000));
    writer.exec("INSERT INTO t VALUES (" + std::to_string(round) + ", 0)");
    const auto committed = std::chrono::steady_clock::now();
    while (reader.queryInt("SELECT max(id) FROM t") < round) {
      if (secondsSince(committed) > 30) throw Error("a commit never became visible");
      std::this_thread::sleep_for(1ms);
    }
    lagMs.push_back(secondsSince(committed) * 1000);
  }
  primary.stop();
  const LatencySummary lag = summarize(lagMs);
  result.metric("freshness_p50_ms", lag.p50);
  result.metric("freshness_max_ms", lag.max);
  const double bound = 1000.0 + static_cast<double>(config.backupSyncInterval.count()) + 100;
  result.target("commit to visible through the VFS, worst of " + std::to_string(rounds) + " (ms)",
                "<= " + formatNumber(bound) + " (poll + sync interval + 100)", lag.max,
                lag.max <= bound);
}

}  // namespace walstream::bench
