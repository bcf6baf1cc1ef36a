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
    dbs.push_back({{"name", d.name},
                   {"path", d.path},
                   {"page_size", d.pageSize},
                   {"generation", d.generation},
                   {"pos", d.pos},
                   {"wal_bytes", d.walBytes},
                   {"healthy", d.healthy},
                   {"streams", std::move(streams)}});
  }
  return jsonText(nlohmann::json{{"databases", std::move(dbs)}});
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
      out.databases.push_back(std::move(db));
    }
    return out;
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("malformed /status JSON: ") + e.what());
  }
}

}  // namespace walstream::proto
