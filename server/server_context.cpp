#include "server/server_context.h"

#include "server/metrics_text.h"

namespace walstream::server {

proto::PrimaryStatusJson ServerContext::status() const {
  proto::PrimaryStatusJson out;
  const auto streams = registry.streams();
  for (size_t i = 0; i < databases.size(); ++i) {
    const ServedDatabase& sd = *databases[i];
    Database& db = sd.db;
    proto::DatabaseStatusJson d;
    d.name = sd.name.name;
    d.path = sd.name.path;
    d.pageSize = db.pageSize();
    const Pos pos = db.position();
    d.generation = pos.empty() ? "" : formatHex16(pos.generation);
    d.pos = pos.str();
    d.walBytes = db.metrics().walBytes.load();
    d.healthy = db.healthy();
    for (const auto& s : streams) {
      if (s.database == i) d.streams.push_back({s.remote, s.pos.str(), s.connectedAt});
    }
    if (backupStatus) d.backup = backupStatus(i);
    out.databases.push_back(std::move(d));
  }
  out.streams = {streamCount.open(), streamCount.max(), streamsRefused.load()};
  return out;
}

std::string ServerContext::metricsText() const {
  std::vector<uint64_t> connected(databases.size(), 0);
  for (const auto& s : registry.streams()) ++connected[s.database];
  std::vector<DatabaseMetricsSample> samples;
  for (size_t i = 0; i < databases.size(); ++i) {
    ServedDatabase& sd = *databases[i];
    samples.push_back({sd.name.name, &sd.db.metrics(), sd.db.position(), sd.db.healthy(),
                       connected[i], sd.streamsStarted.load(), sd.bytesSent.load(),
                       backupStatus ? backupStatus(i) : std::nullopt});
  }
  return renderMetrics(samples, {streamCount.open(), streamCount.max(), streamsRefused.load()});
}

std::string ServerContext::unhealthyReasons() const {
  std::string out;
  const auto add = [&](const std::string& reason) { out += (out.empty() ? "" : "; ") + reason; };
  for (size_t i = 0; i < databases.size(); ++i) {
    const ServedDatabase& sd = *databases[i];
    if (!sd.db.healthy()) {
      const std::string reason = sd.db.healthReason();
      add(sd.name.name + ": " + (reason.empty() ? "not healthy" : reason));
    }
    const std::optional<proto::BackupStatusJson> backup =
        backupStatus ? backupStatus(i) : std::nullopt;
    if (backup && backup->overMaxLag) {
      add(sd.name.name + ": backup to " + backup->url +
          " is past --backup-max-lag: " + backup->lastError);
    }
  }
  return out;
}

}  // namespace walstream::server
