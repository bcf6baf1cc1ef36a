// `--config FILE` (cli/config_file.h): the YAML file read against a subcommand's flags, every
// error one line naming the file's line, on real files.
#include <doctest/doctest.h>

#include <fstream>
#include <map>

#include "cli/config_file.h"
#include "cli/flags.h"
#include "tests/support/temp_dir.h"

using namespace walstream::cli;
using namespace walstream::test;

namespace {

// A file of `text` in `dir`, named walstream.yml.
std::string writeConfig(const TempDir& dir, const std::string& text) {
  const std::string path = dir.file("walstream.yml");
  std::ofstream(path) << text;
  return path;
}

// The primary's shape: flags at the top, a databases: list with per-database keys.
ConfigSchema primarySchema() {
  return {{"http", "token-file", "max-connections", "stall-timeout", "monitor-delay", "backup",
           "tls-insecure"},
          true,
          {"monitor-delay", "backup"}};
}

EnvironmentLookup environment(std::map<std::string, std::string> vars) {
  return [vars](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

// The message of the UsageError loading `text` throws; "" when it loads.
std::string loadError(const std::string& text, const ConfigSchema& schema = primarySchema()) {
  TempDir dir;
  const std::string path = writeConfig(dir, text);
  try {
    loadConfigFile(path, schema, environment({}));
  } catch (const UsageError& e) {
    const std::string message = e.what();
    // The path is the temporary directory's: report it as the file's name alone.
    return message.rfind(path, 0) == 0 ? "walstream.yml" + message.substr(path.size()) : message;
  }
  return "";
}

Flags primaryLikeFlags() {
  Flags flags;
  flags.define("http", "ADDR", "", "");
  flags.define("stall-timeout", "DURATION", "10s", "");
  flags.define("max-connections", "N", "0", "");
  flags.define("tls-insecure", "", "", "");
  defineConfigFlag(flags);
  return flags;
}

}  // namespace

TEST_CASE("config file: top-level keys, a databases list, per-database keys, origins") {
  TempDir dir;
  const std::string path = writeConfig(dir,
                                       "# a primary\n"
                                       "http: \":9090\"\n"
                                       "max-connections: 64\n"
                                       "databases:\n"
                                       "  - path: /data/app.db\n"
                                       "    monitor-delay: 50ms\n"
                                       "  - path: /data/jobs.db\n"
                                       "    backup: file:///backups/jobs\n");
  const ConfigFile file = loadConfigFile(path, primarySchema(), environment({}));
  REQUIRE(file.settings.size() == 2);
  CHECK(file.settings[0].key == "http");
  CHECK(file.settings[0].value == ":9090");
  CHECK(file.settings[0].origin == path + ":2");
  CHECK(file.settings[1].key == "max-connections");
  CHECK(file.settings[1].value == "64");
  REQUIRE(file.databases.size() == 2);
  CHECK(file.databases[0].path == "/data/app.db");
  CHECK(file.databases[0].origin == path + ":5");
  REQUIRE(file.databases[0].settings.size() == 1);
  CHECK(file.databases[0].settings[0].key == "monitor-delay");
  CHECK(file.databases[0].settings[0].value == "50ms");
  CHECK(file.databases[0].settings[0].origin == path + ":6");
  CHECK(file.databases[1].path == "/data/jobs.db");
  REQUIRE(file.databases[1].settings.size() == 1);
  CHECK(file.databases[1].settings[0].value == "file:///backups/jobs");
}

TEST_CASE("config file: the replica's one database is a top-level path") {
  const ConfigSchema replica{{"upstream", "db"}, false, {}};
  TempDir dir;
  const std::string path = writeConfig(dir,
                                       "upstream: http://127.0.0.1:9090\n"
                                       "db: app.db\n"
                                       "path: /data/replica.db\n");
  const ConfigFile file = loadConfigFile(path, replica, environment({}));
  REQUIRE(file.databases.size() == 1);
  CHECK(file.databases[0].path == "/data/replica.db");
  CHECK(file.databases[0].origin == path + ":3");
  CHECK(file.settings.size() == 2);
  CHECK(loadError("upstream: http://x:1\ndatabases:\n  - path: a.db\n", replica) ==
        "walstream.yml:2: unknown key \"databases\"");
  CHECK(loadError("upstream: http://x:1\npath: \"\"\n", replica) ==
        "walstream.yml:2: path is empty");
}

TEST_CASE("config file: a repeatable flag takes a list, each item a setting in order") {
  ConfigSchema replica{{"upstream", "db"}, false, {}};
  replica.listKeys = {"upstream"};
  TempDir dir;
  const std::string path = writeConfig(dir,
                                       "upstream:\n"
                                       "  - http://a:9090\n"
                                       "  - http://b:9090\n"
                                       "path: /data/replica.db\n");
  const ConfigFile file = loadConfigFile(path, replica, environment({}));
  REQUIRE(file.settings.size() == 2);
  CHECK(file.settings[0].key == "upstream");
  CHECK(file.settings[0].value == "http://a:9090");
  CHECK(file.settings[0].origin == path + ":2");
  CHECK(file.settings[1].value == "http://b:9090");
  CHECK(file.settings[1].origin == path + ":3");
  // A single value is still one setting; an empty list is refused; other keys take no list.
  CHECK(loadConfigFile(writeConfig(dir, "upstream: http://a:1\n"), replica, environment({}))
            .settings.size() == 1);
  CHECK(loadError("upstream: []\n", replica) ==
        "walstream.yml:1: key \"upstream\" has an empty list");
  CHECK(loadError("db:\n  - a\n  - b\n", replica) ==
        "walstream.yml:1: key \"db\" wants a single value, not a list");
}

TEST_CASE("config file: every error is one line naming the file's line") {
  CHECK(loadError("http: \":9090\"\n"
                  "databases:\n"
                  "  - path: a.db\n"
                  "  - path: b.db\n"
                  "    monitor-delay: 5ms\n"
                  "\n"
                  "    max-conections: 64\n") ==
        "walstream.yml:7: unknown key \"max-conections\" (in databases[1])");
  CHECK(loadError("http: \":9090\"\nmax-conections: 64\n") ==
        "walstream.yml:2: unknown key \"max-conections\"");
  // A key the top level takes but an entry does not.
  CHECK(loadError("databases:\n  - path: a.db\n    http: \":1\"\n") ==
        "walstream.yml:3: unknown key \"http\" (in databases[0])");
  CHECK(loadError("http:\n  - \":9090\"\n") ==
        "walstream.yml:1: key \"http\" wants a single value, not a list");
  CHECK(loadError("databases:\n  - path: a.db\n    monitor-delay: {a: 1}\n") ==
        "walstream.yml:3: key \"monitor-delay\" wants a single value, not a map (in databases[0])");
  CHECK(loadError("\nhttp:\n") == "walstream.yml:2: key \"http\" has no value");
  CHECK(loadError("http: \":1\"\nhttp: \":2\"\n") ==
        "walstream.yml:2: key \"http\" given twice (first on line 1)");
  CHECK(loadError("databases:\n  - path: a.db\n  - monitor-delay: 5ms\n") ==
        "walstream.yml:3: databases[1] has no path");
  CHECK(loadError("databases:\n  - a.db\n") ==
        "walstream.yml:2: databases[0] wants a map with path: and per-database keys");
  CHECK(loadError("databases: a.db\n") ==
        "walstream.yml:1: key \"databases\" wants a list of entries, each with path:");
  CHECK(loadError("just some text\n") ==
        "walstream.yml:1: want a map of keys at the top (the flags' names without the dashes)");
  CHECK(loadError("http: \":9090\"\n  max-connections: [64\n") ==
        "walstream.yml:2: not YAML: end of map not found");
  CHECK(loadError("databases:\n  - path: a.db\n    path: b.db\n") ==
        "walstream.yml:3: key \"path\" given twice (first on line 2) (in databases[0])");
}

TEST_CASE("config file: a missing file names it and the cause") {
  TempDir dir;
  try {
    loadConfigFile(dir.file("absent.yml"), primarySchema(), environment({}));
    FAIL("loaded a missing file");
  } catch (const UsageError& e) {
    const std::string message = e.what();
    CHECK(message.find(dir.file("absent.yml")) != std::string::npos);
    CHECK(message.find("No such file or directory") != std::string::npos);
  }
}

TEST_CASE("config file: ${VAR} expands from the environment in every scalar, $$ is a $") {
  TempDir dir;
  const std::string path = writeConfig(dir,
                                       "token-file: ${SECRETS}/tokens\n"
                                       "http: \"${HOST}:${PORT}\"\n"
                                       "backup: s3://b/p$$1?x=$y\n"
                                       "databases:\n"
                                       "  - path: ${DATA}/app.db\n"
                                       "    backup: $${LITERAL}\n");
  const ConfigFile file = loadConfigFile(path, primarySchema(),
                                         environment({{"SECRETS", "/etc/walstream"},
                                                      {"HOST", "127.0.0.1"},
                                                      {"PORT", "9090"},
                                                      {"DATA", "/srv"}}));
  REQUIRE(file.settings.size() == 3);
  CHECK(file.settings[0].value == "/etc/walstream/tokens");
  CHECK(file.settings[1].value == "127.0.0.1:9090");
  CHECK(file.settings[2].value == "s3://b/p$1?x=$y");
  REQUIRE(file.databases.size() == 1);
  CHECK(file.databases[0].path == "/srv/app.db");
  CHECK(file.databases[0].settings[0].value == "${LITERAL}");

  CHECK(loadError("http: \":9090\"\ntoken-file: ${NOT_SET_ANYWHERE}/tokens\n") ==
        "walstream.yml:2: environment variable NOT_SET_ANYWHERE is not set (in key "
        "\"token-file\")");
  CHECK(loadError("databases:\n  - path: ${WHERE}/a.db\n") ==
        "walstream.yml:2: environment variable WHERE is not set (in key \"path\" of "
        "databases[0])");
  CHECK(loadError("http: ${HOST\n") ==
        "walstream.yml:1: want ${NAME} after $ (or $$ for a $) (in key \"http\")");
}

TEST_CASE("config file: the command line's flags override the file's values") {
  TempDir dir;
  const std::string path = writeConfig(dir,
                                       "http: \":9090\"\n"
                                       "stall-timeout: 30s\n"
                                       "max-connections: 64\n"
                                       "tls-insecure: true\n");
  Flags flags = primaryLikeFlags();
  REQUIRE(flags.parse({"--config", path, "--http", "127.0.0.1:7070"}));
  REQUIRE(readConfigFlag(flags, true, {}).has_value());
  CHECK(flags.str("http") == "127.0.0.1:7070");
  CHECK(flags.onCommandLine("http"));
  CHECK(flags.duration("stall-timeout") == std::chrono::seconds(30));
  CHECK(flags.u64("max-connections") == 64);
  CHECK(flags.given("max-connections"));
  CHECK_FALSE(flags.onCommandLine("max-connections"));
  CHECK(flags.boolean("tls-insecure"));

  // A per-database value overrides the file's top level, never the command line.
  Flags own = flags;
  applyConfigSettings(own, {{"stall-timeout", "5s", path + ":9"}, {"http", ":1", path + ":10"}});
  CHECK(own.duration("stall-timeout") == std::chrono::seconds(5));
  CHECK(own.str("http") == "127.0.0.1:7070");
  CHECK(flags.duration("stall-timeout") == std::chrono::seconds(30));

  Flags none = primaryLikeFlags();
  REQUIRE(none.parse({}));
  CHECK_FALSE(readConfigFlag(none, true, {}).has_value());
}

TEST_CASE("config file: a value is checked by its flag's parsing, the error naming key and line") {
  TempDir dir;
  const std::string path = writeConfig(dir,
                                       "http: \":9090\"\n"
                                       "stall-timeout: 10 seconds\n"
                                       "max-connections: many\n");
  Flags flags = primaryLikeFlags();
  REQUIRE(flags.parse({"--config", path}));
  readConfigFlag(flags, true, {});
  CHECK_THROWS_WITH_AS(flags.duration("stall-timeout"),
                       (path + ":2: invalid value \"10 seconds\" for stall-timeout: want a "
                               "duration like 500ms, 10s, 1m")
                           .c_str(),
                       UsageError);
  CHECK_THROWS_WITH_AS(
      flags.u64("max-connections"),
      (path + ":3: invalid value \"many\" for max-connections: want a whole number").c_str(),
      UsageError);
  CHECK(std::string(flags.error("http", "--http is wrong").what()) == path + ":1: --http is wrong");

  Flags booleans = primaryLikeFlags();
  REQUIRE(booleans.parse({}));
  CHECK_THROWS_WITH_AS(
      applyConfigSettings(booleans, {{"tls-insecure", "yes", "walstream.yml:4"}}),
      "walstream.yml:4: invalid value \"yes\" for tls-insecure: want true or false", UsageError);

  // The same value on the command line keeps the command line's message.
  Flags cli = primaryLikeFlags();
  REQUIRE(cli.parse({"--stall-timeout", "10 seconds"}));
  CHECK_THROWS_WITH_AS(
      cli.duration("stall-timeout"),
      "invalid value \"10 seconds\" for --stall-timeout: want a duration like 500ms, 10s, 1m",
      UsageError);
}
