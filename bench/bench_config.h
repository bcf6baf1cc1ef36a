// What one run of the benchmark suite measures against: the walstream binary under test and
// the sizes of the workloads, full-length or shortened by --quick.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace walstream::bench {

struct BenchConfig {
  std::string walstream;                       // the binary under test
  std::chrono::milliseconds duration{10'000};  // each timed writer phase
  bool quick = false;
  uint64_t bootstrapBytes = uint64_t{1} << 30;  // the large bootstrap database
  // The database restore_snapshot_s3 restores from a local S3 server (--s3-restore-mib).
  uint64_t s3RestoreBytes = uint64_t{1} << 30;
  int catchupTransactions = 100'000;
  // Single-row transactions the WAL-replay restore applies (restore_wal scenario).
  int restoreWalTransactions = 1'000'000;
  // Each restore (and its cp reference) is timed this many times; the median counts.
  int restoreRounds = 3;
  // --backup-sync-interval of the backup scenarios: the lag target is this + 50 ms.
  std::chrono::milliseconds backupSyncInterval{1000};
  int fanoutReplicas = 50;
  // Replicas of the fan-out whose lag is measured (evenly spread); every replica is checked for
  // the last row. A poller sweeping all 50 took a whole core of the 2 the processes share.
  int fanoutLagSample = 10;
  int concurrentReaders = 4;
  // Pause of the visibility poller between sweeps (0: a tight loop). A tight loop would take a
  // whole core of this 2-core machine from the processes being measured; 50 us (with 1 ns timer
  // slack) bounds the measuring error at about one sweep, always in the direction of a larger lag.
  std::chrono::microseconds pollPause{50};
};

}  // namespace walstream::bench
