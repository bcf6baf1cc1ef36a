#include "tests/support/replica_with_status.h"

#include <doctest/doctest.h>
#include <signal.h>

#include <thread>

#include "tests/support/hostile_stream.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"

namespace walstream::test {

namespace {

std::vector<std::string> replicaArgv(const TempDir& dir, const std::vector<std::string>& flags) {
  std::vector<std::string> argv{WALSTREAM_BINARY, "replica"};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.insert(argv.end(), {"--http", "127.0.0.1:0", dir.file("replica.db")});
  return argv;
}

}  // namespace

ReplicaWithStatus::ReplicaWithStatus(const TempDir& dir, const std::vector<std::string>& flags)
    : db(dir.file("replica.db")),
      process(replicaArgv(dir, flags), dir.file("replica")),
      port(replicaStatusPort(process)) {}

nlohmann::json ReplicaWithStatus::status() {
  return nlohmann::json::parse(httpRequest(port, "/status").body);
}

nlohmann::json ReplicaWithStatus::waitStatus(const std::function<bool(const nlohmann::json&)>& ok,
                                             std::chrono::seconds patience) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  nlohmann::json s = status();
  while (!ok(s) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    s = status();
  }
  return s;
}

void ReplicaWithStatus::stop() {
  process.signal(SIGTERM);
  CHECK(process.wait(std::chrono::seconds(20)) == std::optional<int>(0));
}

}  // namespace walstream::test
