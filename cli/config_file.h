// `--config FILE`: a subcommand's flags read from a YAML file (docs/config.md). Its top-level
// keys are the subcommand's flag names without the dashes, each a scalar that the flag's own
// parsing checks (cli/flags.h), so a flag defined later is a key with no code here. The databases
// are entries of their own: the primary's `databases:` list (each a `path:` with per-database
// keys), the replica's top-level `path:`. `${VAR}` in any scalar is the environment's VAR, `$$` a
// literal `$`. Every error is one UsageError line starting FILE:LINE.
#pragma once

#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace walstream::cli {

class Flags;

// One scalar of the file, its ${VAR}s expanded.
struct ConfigSetting {
  std::string key, value;
  std::string origin;  // FILE:LINE of the key
};

struct ConfigDatabase {
  std::string path;
  std::string origin;                   // FILE:LINE of the entry
  std::vector<ConfigSetting> settings;  // its per-database keys
};

struct ConfigFile {
  std::vector<ConfigSetting> settings;  // the top-level keys, flags all
  std::vector<ConfigDatabase> databases;
};

// What a subcommand's file may hold.
struct ConfigSchema {
  std::set<std::string> keys;  // top-level scalars: the subcommand's flags but --config
  // true: a `databases:` list of maps with `path:` and any of databaseKeys (the primary);
  // false: one database, a top-level `path:` (the replica).
  bool databaseList = false;
  std::set<std::string> databaseKeys;
  // Top-level keys that may hold a list of scalars (the repeatable flags, such as the replica's
  // upstream): each item is a setting of its own, in order.
  std::set<std::string> listKeys{};
};

// The value of an environment variable; nullopt when it is not set.
using EnvironmentLookup = std::function<std::optional<std::string>(const std::string&)>;
std::optional<std::string> processEnvironment(const std::string& name);

// Reads and checks the file: unknown or repeated keys, a list or map or nothing where a scalar is
// wanted, a database entry without a path, an unset variable, text that is not YAML. The values
// themselves are checked where the flags are read.
ConfigFile loadConfigFile(const std::string& path, const ConfigSchema& schema,
                          const EnvironmentLookup& environment = processEnvironment);

// Defines --config FILE.
void defineConfigFlag(Flags& flags);

// With --config: loads its file for `flags` (top-level keys: every flag but --config), sets its
// top-level values into `flags` where the command line gave none, and returns its databases.
// Without --config: nullopt.
std::optional<std::vector<ConfigDatabase>> readConfigFlag(Flags& flags, bool databaseList,
                                                          std::set<std::string> databaseKeys);

// Sets each setting into `flags` unless the command line gave that flag.
void applyConfigSettings(Flags& flags, const std::vector<ConfigSetting>& settings);

}  // namespace walstream::cli
