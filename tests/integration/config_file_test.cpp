// `--config FILE` on the real binary: a primary and its replicas started from YAML files alone,
// and bad files refused with one line and exit code 2 before anything listens.
#include <doctest/doctest.h>
#include <signal.h>

#include <fstream>
#include <regex>

#include "tests/support/cluster.h"
#include "tests/support/loopback_server.h"
#include "tests/support/primary_status.h"
#include "tests/support/process_stop.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

std::string writeFile(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

// The port of a primary's "listening on http://127.0.0.1:PORT" line (waits up to 30 s).
uint16_t listeningPort(Process& primary) {
  const std::string log = primary.waitForStderr("listening on http", 30s);
  std::smatch m;
  REQUIRE_MESSAGE(
      std::regex_search(log, m, std::regex("listening on http://127\\.0\\.0\\.1:([0-9]+)")),
      primary.stderrText());
  return static_cast<uint16_t>(std::stoi(m[1]));
}

// A port nothing listens on at the moment.
uint16_t freePort() {
  uint16_t port = 0;
  listenOnLoopback(port);
  return port;
}

}  // namespace

TEST_CASE("a primary and two replicas started with --config alone") {
  TempDir dir;
  const std::string app = dir.file("app.db"), jobs = dir.file("jobs.db");
  createBank(app);
  createBank(jobs);
  const std::string store = "file://" + dir.file("jobs-store");
  const std::string primaryConfig = writeFile(dir.file("primary.yml"),
                                              "http: 127.0.0.1:0\n"
                                              "stall-timeout: 20s\n"
                                              "databases:\n"
                                              "  - path: " +
                                                  app +
                                                  "\n"
                                                  "  - path: " +
                                                  jobs +
                                                  "\n"
                                                  "    monitor-delay: 5ms\n"
                                                  "    backup: " +
                                                  store +
                                                  "\n"
                                                  "    backup-sync-interval: 100ms\n");
  Process primary({WALSTREAM_BINARY, "primary", "--config", primaryConfig}, dir.file("primary"));
  const uint16_t port = listeningPort(primary);

  // jobs.db's own backup URL is its store as given (no /jobs.db below it); app.db has none.
  const proto::PrimaryStatusJson status = waitForCapture(port);
  REQUIRE(status.databases.size() == 2);
  CHECK(status.databases[0].name == "app.db");
  CHECK_FALSE(status.databases[0].backup.has_value());
  CHECK(status.databases[1].name == "jobs.db");
  REQUIRE(status.databases[1].backup.has_value());
  CHECK(status.databases[1].backup->url == store);

  const std::string upstream = "http://127.0.0.1:" + std::to_string(port);
  auto replicaConfig = [&](const std::string& name, const std::string& db) {
    return writeFile(dir.file(name + ".yml"), "upstream: " + upstream + "\n" + "db: " + db + "\n" +
                                                  "heartbeat: 200ms\n" +
                                                  "path: " + dir.file(name + ".db") + "\n");
  };
  Process appReplica(
      {WALSTREAM_BINARY, "replica", "--config", replicaConfig("app-replica", "app.db")},
      dir.file("app-replica"));
  Process jobsReplica(
      {WALSTREAM_BINARY, "replica", "--config", replicaConfig("jobs-replica", "jobs.db")},
      dir.file("jobs-replica"));
  {
    // Different numbers of transfers, so that each replica can match only its own database.
    BankWriter appWriter(app, 0, 40);
    BankWriter jobsWriter(jobs, 0, 70);
    appWriter.waitFor(40, 30s);
    jobsWriter.waitFor(70, 30s);
  }
  CHECK(waitForConvergence(app, dir.file("app-replica.db"), 30s));
  CHECK(waitForConvergence(jobs, dir.file("jobs-replica.db"), 30s));
  stopCleanly(appReplica);
  stopCleanly(jobsReplica);
  stopCleanly(primary);
  CHECK(primary.stderrText().find(dir.file("jobs.db") + ": backing up to " + store + "\n") !=
        std::string::npos);
}

TEST_CASE("bad config files: one line, exit code 2, nothing listening") {
  TempDir dir;
  const std::string app = dir.file("app.db");
  createBank(app);
  const uint16_t port = freePort();
  const std::string http = "http: 127.0.0.1:" + std::to_string(port) + "\n";
  const std::string config = dir.file("walstream.yml");
  struct Case {
    std::string text, error;
  };
  const std::vector<Case> cases = {
      {http + "databases:\n  - path: " + app + "\n    max-conections: 64\n",
       config + ":4: unknown key \"max-conections\" (in databases[0])"},
      {http + "stall-timeout: soon\ndatabases:\n  - path: " + app + "\n",
       config + ":2: invalid value \"soon\" for stall-timeout: want a duration like 500ms, 10s, "
                "1m"},
      {http + "databases:\n  - path: " + app + "\n    monitor-delay: [1s]\n",
       config + ":4: key \"monitor-delay\" wants a single value, not a list (in databases[0])"},
      {http + "databases:\n  - path: " + app + "\n  - monitor-delay: 1s\n",
       config + ":4: databases[1] has no path"},
      {http + "databases:\n  - path: " + app + "\n  - path: " + dir.file("sub/app.db") + "\n",
       config + ":4: two databases named app.db were given; each is served under its file name, "
                "which must be unique"},
      {http + "databases: [\n", config + ":3: not YAML: end of sequence flow not found"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    writeFile(config, c.text);
    const RunResult r =
        runToCompletion({WALSTREAM_BINARY, "primary", "--config", config}, dir.file("bad"));
    CHECK(r.exitCode == 2);
    CHECK(r.err == "walstream primary: " + c.error + "\n");
    listenOnLoopbackPort(port);  // throws if anything still listens there
  }

  const RunResult missing = runToCompletion(
      {WALSTREAM_BINARY, "primary", "--config", dir.file("absent.yml")}, dir.file("missing"));
  CHECK(missing.exitCode == 2);
  CHECK(missing.err.find(dir.file("absent.yml")) != std::string::npos);
  CHECK(missing.err.find("No such file or directory") != std::string::npos);

  writeFile(config, http + "databases:\n  - path: " + app + "\n");
  const RunResult both =
      runToCompletion({WALSTREAM_BINARY, "primary", "--config", config, app}, dir.file("both"));
  CHECK(both.exitCode == 2);
  CHECK(both.err ==
        "walstream primary: --config names the databases (databases:); give no DB argument\n");

  writeFile(config, "upstream: http://127.0.0.1:1\nhttp: 127.0.0.1:" + std::to_string(port) +
                        "\npath: " + dir.file("replica.db") + "\nheartbeat: 10ms\n");
  const RunResult replica =
      runToCompletion({WALSTREAM_BINARY, "replica", "--config", config}, dir.file("replica"));
  CHECK(replica.exitCode == 2);
  CHECK(replica.err == "walstream replica: " + config +
                           ":4: --heartbeat 10ms is out of range: want 100ms to 1h (the primary "
                           "refuses others)\n");
  listenOnLoopbackPort(port);
}
