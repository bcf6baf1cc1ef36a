#include "proto/replica_status_json.h"

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "proto/json_text.h"

namespace walstream::proto {

std::string encodeReplicaStatusJson(const ReplicaStatusJson& status) {
  return jsonText({{"upstream", status.upstream},
                   {"db", status.db},
                   {"pos", status.pos},
                   {"upstream_pos", status.upstreamPos},
                   {"connected", status.connected},
                   {"snapshots_applied", status.snapshotsApplied},
                   {"transactions_applied", status.transactionsApplied},
                   {"lag_ms", status.lagMs},
                   {"stalled_ms", status.stalledMs},
                   {"last_error", status.lastError},
                   {"upstream_protocol", status.upstreamProtocol}});
}

ReplicaStatusJson decodeReplicaStatusJson(std::string_view text) {
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    ReplicaStatusJson out;
    out.upstream = j.at("upstream").get<std::string>();
    out.db = j.at("db").get<std::string>();
    out.pos = j.at("pos").get<std::string>();
    out.upstreamPos = j.at("upstream_pos").get<std::string>();
    out.connected = j.at("connected").get<bool>();
    out.snapshotsApplied = j.at("snapshots_applied").get<uint64_t>();
    out.transactionsApplied = j.at("transactions_applied").get<uint64_t>();
    out.lagMs = j.at("lag_ms").get<int64_t>();
    out.stalledMs = j.at("stalled_ms").get<int64_t>();
    out.lastError = j.at("last_error").get<std::string>();
    out.upstreamProtocol = j.at("upstream_protocol").get<std::string>();
    return out;
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("malformed replica /status JSON: ") + e.what());
  }
}

}  // namespace walstream::proto
