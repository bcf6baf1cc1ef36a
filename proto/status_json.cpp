#include "proto/status_json.h"

#include <ctime>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "proto/json_text.h"

namespace walstream::proto {

std::string encodeStatusJson(const PrimaryStatusJson& status) {
  nlohmann::json dbs = nlohmann::json::array();
  for (const auto& d : status.databases) {
    nlohmann::json streams = nlohmann::json::array();
    for (const auto& s : d.streams) {
      streams.push_back({{"remote", s.remote}, {"pos", s.pos}, {"connected_at", s.connectedAt}});
    }
    nlohmann::json db = {{"name", d.name},
                         {"path", d.path},
                         {"page_size", d.pageSize},
                         {"generation", d.generation},
                         {"pos", d.pos},
                         {"wal_bytes", d.walBytes},
                         {"healthy", d.healthy},
                         {"streams", std::move(streams)}};
    if (const auto& b = d.backup) {
      db["backup"] = {{"url", b->url},
                      {"pos", b->pos},
                      {"lag_bytes", b->lagBytes},
                      {"lag_seconds", b->lagSeconds},
                      {"last_error", b->lastError},
                      {"last_error_at", b->lastErrorAt},
                      {"errors", b->errors},
                      {"last_snapshot_at", b->lastSnapshotAt},
                      {"over_max_lag", b->overMaxLag}};
    }
    dbs.push_back(std::move(db));
  }
  const StreamCountsJson& streams = status.streams;
  return jsonText(nlohmann::json{
      {"databases", std::move(dbs)},
      {"streams", {{"open", streams.open}, {"max", streams.max}, {"refused", streams.refused}}}});
}

PrimaryStatusJson decodeStatusJson(std::string_view text) {
  try {
    const nlohmann::json j = nlohmann::json::parse(text);
    PrimaryStatusJson out;
    for (const auto& d : j.at("databases")) {
      DatabaseStatusJson db;
      db.name = d.at("name").get<std::string>();
      db.path = d.at("path").get<std::string>();
      db.pageSize = d.at("page_size").get<uint32_t>();
      db.generation = d.at("generation").get<std::string>();
      db.pos = d.at("pos").get<std::string>();
      db.walBytes = d.at("wal_bytes").get<uint64_t>();
      db.healthy = d.at("healthy").get<bool>();
      for (const auto& s : d.at("streams")) {
        db.streams.push_back({s.at("remote").get<std::string>(), s.at("pos").get<std::string>(),
                              s.at("connected_at").get<std::string>()});
      }
      if (d.contains("backup")) {
        const auto& b = d.at("backup");
        db.backup = BackupStatusJson{
            b.at("url").get<std::string>(),        b.at("pos").get<std::string>(),
            b.at("lag_bytes").get<uint64_t>(),     b.at("lag_seconds").get<double>(),
            b.at("last_error").get<std::string>(), b.at("last_error_at").get<std::string>(),
            b.at("errors").get<uint64_t>(),        b.at("last_snapshot_at").get<std::string>(),
            b.at("over_max_lag").get<bool>()};
      }
      out.databases.push_back(std::move(db));
    }
    if (j.contains("streams")) {
      const auto& s = j.at("streams");
      out.streams = {s.at("open").get<uint64_t>(), s.at("max").get<uint64_t>(),
                     s.at("refused").get<uint64_t>()};
    }
    return out;
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("malformed /status JSON: ") + e.what());
  }
}

}  // namespace walstream::proto
