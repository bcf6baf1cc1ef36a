#include "server/server_context.h"

#include "server/metrics_text.h"

namespace walstream::server {

proto::PrimaryStatusJson ServerContext::status() const {
  proto::PrimaryStatusJson out;
  const auto streams = registry.streams();
  for (size_t i = 0; i < databases.size(); ++i) {
    const ServedDatabase& sd = *databases[i];
    const StreamSource& source = sd.source;
    proto::DatabaseStatusJson d;
    d.name = sd.name.name;
    d.path = sd.name.path;
    d.pageSize = source.pageSize();
    const Pos pos = source.position();
    d.generation = pos.empty() ? "" : formatHex16(pos.generation);
    d.pos = pos.str();
    const CaptureMetrics* capture = source.captureMetrics();
    d.walBytes = capture ? capture->walBytes.load() : 0;
    d.healthy = source.healthy();
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
    const ServedDatabase& sd = *databases[i];
    samples.push_back({sd.name.name, sd.source.captureMetrics(), sd.source.position(),
                       sd.source.healthy(), connected[i], sd.streamsStarted.load(),
                       sd.bytesSent.load(), backupStatus ? backupStatus(i) : std::nullopt});
  }
  return renderMetrics(samples, {streamCount.open(), streamCount.max(), streamsRefused.load()});
}

std::string ServerContext::unhealthyReasons() const {
  std::string out;
  const auto add = [&](const std::string& reason) { out += (out.empty() ? "" : "; ") + reason; };
  for (size_t i = 0; i < databases.size(); ++i) {
    const ServedDatabase& sd = *databases[i];
    if (!sd.source.healthy()) {
      const std::string reason = sd.source.healthReason();
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
