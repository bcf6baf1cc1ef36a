#include "bench/rows_cluster.h"

#include "bench/row_writer.h"

namespace walstream::bench {

using namespace std::chrono_literals;

RowsCluster::RowsCluster(const BenchConfig& config, const std::string& dir, int replicas,
                         bool replicaStatus, std::vector<std::string> primaryFlags,
                         std::vector<std::string> primaryLauncher)
    : binary_(config.walstream), dir_(dir), replicaStatus_(replicaStatus), appDb_(dir + "/app.db") {
  createRowsDatabase(appDb_);
  primary_ =
      std::make_unique<WalstreamPrimary>(config.walstream, appDb_, dir + "/primary",
                                         std::move(primaryFlags), std::move(primaryLauncher));
  for (int i = 0; i < replicas; ++i) {
    const std::string name = "replica" + std::to_string(i);
    replicas_.push_back(std::make_unique<WalstreamReplica>(config.walstream, primary_->url(),
                                                           dir + "/" + name + ".db",
                                                           dir + "/" + name, replicaStatus));
  }
  for (auto& r : replicas_) r->waitUntilBootstrapped(120s);
}

std::vector<std::string> RowsCluster::replicaDbs() const {
  std::vector<std::string> out;
  for (const auto& r : replicas_) out.push_back(r->localDb());
  return out;
}

std::vector<pid_t> RowsCluster::replicaPids() const {
  std::vector<pid_t> out;
  for (const auto& r : replicas_) out.push_back(r->pid());
  return out;
}

void RowsCluster::stopReplica(size_t i) {
  replicas_.at(i)->stop();
}

WalstreamReplica& RowsCluster::restartReplica(size_t i, const std::string& logSuffix) {
  const std::string name = "replica" + std::to_string(i);
  replicas_.at(i).reset();  // kills it if it still runs
  replicas_[i] =
      std::make_unique<WalstreamReplica>(binary_, primary_->url(), dir_ + "/" + name + ".db",
                                         dir_ + "/" + name + "-" + logSuffix, replicaStatus_);
  return *replicas_[i];
}

void RowsCluster::stop() {
  for (auto& r : replicas_) r->stop();
  primary_->stop();
}

}  // namespace walstream::bench
