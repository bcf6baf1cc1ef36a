#include "bench/scenarios.h"

namespace walstream::bench {

std::vector<Scenario> allScenarios() {
  return {
      {"lag", "replica visibility lag, writer at 100 and 1000 tx/s", runLagScenario},
      {"cascade",
       "lag through two hops (primary -> replica -> replica, --serve-stream) beside one hop, "
       "writer at 1000 tx/s",
       runCascadeScenario},
      {"read_your_writes",
       "POST /sync then GET /wait after each commit at 100 tx/s: their latencies, rows missed",
       runReadYourWritesScenario},
      {"wait_wake",
       "a pending GET /wait's answer after its position became visible on the replica, 100 tx/s",
       runWaitWakeScenario},
      {"readers", "lag at 1000 tx/s with concurrent full-table readers on the replica",
       runReadersScenario},
      {"overhead", "writer throughput alone, with a primary, with a primary and a replica",
       runOverheadScenario},
      {"catchup", "a stopped replica catching up on a backlog of transactions", runCatchupScenario},
      {"bootstrap", "a new replica from a large database, versus cp", runBootstrapScenario},
      {"fanout", "many replicas on one primary at 1000 tx/s", runFanoutScenario},
      {"cost", "CPU and memory of primary and replica, idle and at 1000 tx/s", runCostScenario},
      {"overload",
       "a burst of 1000 abandoned stream requests, and 1000 idle connections under a "
       "1024-descriptor limit, while the writer runs at 200 tx/s",
       runOverloadScenario},
      {"backup_overhead",
       "writer throughput against a primary alone and one backing up to a store on the same disk",
       runBackupOverheadScenario},
      {"backup_lag", "commit to durable WAL object in the backup store, writer at 1000 tx/s",
       runBackupLagScenario},
      {"restore_snapshot", "restore of a large database from its snapshot, versus cp + fsync",
       runRestoreSnapshotScenario},
      {"restore_wal", "restore replaying a million single-row transactions of WAL",
       runRestoreWalScenario},
      {"backup_overhead_s3",
       "writer throughput against a primary alone and one backing up to a local S3 server",
       runBackupOverheadS3Scenario},
      {"backup_lag_s3", "commit to durable WAL object on a local S3 server, writer at 1000 tx/s",
       runBackupLagS3Scenario},
      {"restore_snapshot_s3", "restore of a large database from a local S3 server, versus curl",
       runRestoreSnapshotS3Scenario},
      {"backup_requests_s3",
       "requests a backup sends to a local S3 server at 1000 tx/s, default sync interval",
       runBackupRequestsS3Scenario},
      {"vfs_open_s3",
       "the read-only VFS over a large database on a local S3 server: open and one point lookup "
       "(requests, time), 1,000 random lookups with a warm cache, memory",
       runVfsOpenS3Scenario},
      {"vfs_freshness_s3",
       "a commit on the primary until visible through the VFS (poll 1 s, S3 sync interval)",
       runVfsFreshnessS3Scenario},
  };
}

}  // namespace walstream::bench
