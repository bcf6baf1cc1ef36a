#include "cli/config_file.h"

#include <yaml-cpp/yaml.h>

#include <cstdlib>
#include <map>

#include "cli/flags.h"
#include "core/error.h"
#include "core/file_util.h"

namespace walstream::cli {

namespace {

// Reads one parsed file against its schema; every error names the file and a line.
class ConfigReader {
 public:
  ConfigReader(std::string path, const ConfigSchema& schema, const EnvironmentLookup& environment)
      : path_(std::move(path)), schema_(schema), environment_(environment) {}

  ConfigFile read(const YAML::Node& root) const {
    ConfigFile file;
    if (root.IsNull()) return file;  // empty, or comments only
    if (!root.IsMap()) {
      throw UsageError(origin(root) +
                       ": want a map of keys at the top (the flags' names without the dashes)");
    }
    forEachKey(root, "", [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) {
      if (schema_.databaseList && key == "databases") {
        readDatabases(k, v, file.databases);
      } else if (!schema_.databaseList && key == "path") {
        file.databases.push_back({scalar(key, k, v, ""), origin(k), {}});
        if (file.databases.back().path.empty()) throw UsageError(origin(k) + ": path is empty");
      } else if (schema_.listKeys.count(key) != 0 && v.IsSequence()) {
        if (v.size() == 0) throw UsageError(origin(k) + ": key \"" + key + "\" has an empty list");
        for (const auto& item : v)
          file.settings.push_back({key, scalar(key, item, item, ""), origin(item)});
      } else if (schema_.keys.count(key) != 0) {
        file.settings.push_back({key, scalar(key, k, v, ""), origin(k)});
      } else {
        throw UsageError(origin(k) + ": unknown key \"" + key + "\"");
      }
    });
    return file;
  }

 private:
  std::string origin(const YAML::Node& node) const {
    return path_ + ":" + std::to_string(node.Mark().line + 1);
  }

  // Calls visit(key, keyNode, valueNode) for each entry of a map; a key given twice is an error.
  // `context`: "" at the top level, " (in databases[I])" in an entry.
  template <typename Visit>
  void forEachKey(const YAML::Node& map, const std::string& context, Visit visit) const {
    std::map<std::string, int> seen;
    for (const auto& entry : map) {
      const std::string key = entry.first.Scalar();
      const int line = entry.first.Mark().line + 1;
      if (auto [it, inserted] = seen.emplace(key, line); !inserted) {
        throw UsageError(origin(entry.first) + ": key \"" + key + "\" given twice (first on line " +
                         std::to_string(it->second) + ")" + context);
      }
      visit(key, entry.first, entry.second);
    }
  }

  // The scalar value of `key`, expanded. `entry`: "" at the top level, else "databases[I]".
  std::string scalar(const std::string& key, const YAML::Node& keyNode, const YAML::Node& value,
                     const std::string& entry) const {
    const std::string where = origin(keyNode);
    const std::string inEntry = entry.empty() ? "" : " (in " + entry + ")";
    if (value.IsSequence() || value.IsMap()) {
      throw UsageError(where + ": key \"" + key + "\" wants a single value, not a " +
                       (value.IsMap() ? "map" : "list") + inEntry);
    }
    if (!value.IsScalar()) throw UsageError(where + ": key \"" + key + "\" has no value" + inEntry);
    return expand(value.Scalar(), where,
                  " (in key \"" + key + "\"" + (entry.empty() ? "" : " of " + entry) + ")");
  }

  // `${VAR}` is VAR's value, `$$` a `$`; any other `$` stays as it is.
  std::string expand(const std::string& text, const std::string& where,
                     const std::string& context) const {
    std::string out;
    for (size_t i = 0; i < text.size(); ++i) {
      if (text[i] != '$' || i + 1 == text.size() || (text[i + 1] != '$' && text[i + 1] != '{')) {
        out += text[i];
        continue;
      }
      if (text[++i] == '$') {
        out += '$';
        continue;
      }
      const size_t end = text.find('}', i);
      if (end == std::string::npos || end == i + 1) {
        throw UsageError(where + ": want ${NAME} after $ (or $$ for a $)" + context);
      }
      const std::string name = text.substr(i + 1, end - i - 1);
      const std::optional<std::string> value = environment_(name);
      if (!value) {
        throw UsageError(where + ": environment variable " + name + " is not set" + context);
      }
      out += *value;
      i = end;
    }
    return out;
  }

  void readDatabases(const YAML::Node& keyNode, const YAML::Node& list,
                     std::vector<ConfigDatabase>& out) const {
    if (!list.IsSequence()) {
      throw UsageError(origin(keyNode) +
                       ": key \"databases\" wants a list of entries, each with path:");
    }
    for (size_t i = 0; i < list.size(); ++i) out.push_back(readDatabase(list[i], i));
  }

  ConfigDatabase readDatabase(const YAML::Node& entry, size_t index) const {
    const std::string name = "databases[" + std::to_string(index) + "]";
    ConfigDatabase db{"", origin(entry), {}};
    if (!entry.IsMap()) {
      throw UsageError(db.origin + ": " + name + " wants a map with path: and per-database keys");
    }
    bool hasPath = false;
    forEachKey(entry, " (in " + name + ")",
               [&](const std::string& key, const YAML::Node& k, const YAML::Node& v) {
                 if (key == "path") {
                   db.path = scalar(key, k, v, name);
                   hasPath = true;
                 } else if (schema_.databaseKeys.count(key) != 0) {
                   db.settings.push_back({key, scalar(key, k, v, name), origin(k)});
                 } else {
                   throw UsageError(origin(k) + ": unknown key \"" + key + "\" (in " + name + ")");
                 }
               });
    if (!hasPath || db.path.empty()) throw UsageError(db.origin + ": " + name + " has no path");
    return db;
  }

  std::string path_;
  const ConfigSchema& schema_;
  const EnvironmentLookup& environment_;
};

}  // namespace

std::optional<std::string> processEnvironment(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

ConfigFile loadConfigFile(const std::string& path, const ConfigSchema& schema,
                          const EnvironmentLookup& environment) {
  std::string text;
  try {
    text = readFile(path);
  } catch (const Error& e) {
    throw UsageError(std::string("config file: ") + e.what());
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw UsageError(path + ":" + std::to_string(e.mark.line + 1) + ": not YAML: " + e.msg);
  }
  return ConfigReader(path, schema, environment).read(root);
}

void defineConfigFlag(Flags& flags) {
  flags.define("config", "FILE", "",
               "read flags from this YAML file, each a top-level key named as the flag without "
               "the dashes (docs/config.md); flags given here override its values");
}

std::optional<std::vector<ConfigDatabase>> readConfigFlag(Flags& flags, bool databaseList,
                                                          std::set<std::string> databaseKeys) {
  if (!flags.given("config")) return std::nullopt;
  ConfigSchema schema{{}, databaseList, std::move(databaseKeys), {}};
  for (const std::string& name : flags.names()) {
    if (name != "config") schema.keys.insert(name);
    if (flags.repeatable(name)) schema.listKeys.insert(name);
  }
  ConfigFile file = loadConfigFile(flags.str("config"), schema);
  applyConfigSettings(flags, file.settings);
  return std::move(file.databases);
}

void applyConfigSettings(Flags& flags, const std::vector<ConfigSetting>& settings) {
  for (const ConfigSetting& s : settings) flags.setFromFile(s.key, s.value, s.origin);
}

}  // namespace walstream::cli
