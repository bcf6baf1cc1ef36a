// A rows database (row_writer.h) in a fresh directory, served by one walstream primary and
// followed by N walstream replicas, all bootstrapped when the constructor returns.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bench/bench_config.h"
#include "bench/walstream_process.h"

namespace walstream::bench {

class RowsCluster {
 public:
  // `primaryLauncher` comes before the binary on the primary's command line.
  RowsCluster(const BenchConfig& config, const std::string& dir, int replicas,
              bool replicaStatus = false, std::vector<std::string> primaryFlags = {},
              std::vector<std::string> primaryLauncher = {});

  const std::string& appDb() const { return appDb_; }
  WalstreamPrimary& primary() { return *primary_; }
  WalstreamReplica& replica(size_t i) { return *replicas_.at(i); }
  std::vector<std::string> replicaDbs() const;
  std::vector<pid_t> replicaPids() const;
  // Stops replica i cleanly (SIGTERM); its database and position file stay.
  void stopReplica(size_t i);
  // Starts replica i again on its database; does not wait. Its log is <name>-<logSuffix>.
  WalstreamReplica& restartReplica(size_t i, const std::string& logSuffix);
  // Stops the replicas, then the primary, each with SIGTERM, and checks they exited cleanly.
  void stop();

 private:
  std::string binary_;
  std::string dir_;
  bool replicaStatus_;
  std::string appDb_;
  std::unique_ptr<WalstreamPrimary> primary_;
  std::vector<std::unique_ptr<WalstreamReplica>> replicas_;
};

}  // namespace walstream::bench
