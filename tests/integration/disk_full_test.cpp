// The primary's shadow WAL on a small tmpfs that fills up while the application keeps writing.
// Capture fails with a clear error and /healthz says so; the application is not held up; when
// space returns capture recovers (continuing its generation, or starting a new one with a log
// line), and a replica that followed throughout ends with exactly the application's content.
// Needs to mount a tmpfs (root, as CI runs); elsewhere the test says it is skipped.
#include <doctest/doctest.h>
#include <sqlite3.h>
#include <sys/mount.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "core/sqlite_conn.h"
#include "tests/support/cluster.h"
#include "tests/support/http_client.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

// A tmpfs mounted on `dir` for the object's life.
class TmpfsMount {
 public:
  TmpfsMount(std::string dir, const std::string& size) : dir_(std::move(dir)) {
    std::filesystem::create_directories(dir_);
    const std::string opts = "size=" + size;
    mounted_ = ::mount("tmpfs", dir_.c_str(), "tmpfs", 0, opts.c_str()) == 0;
    if (!mounted_) error_ = std::strerror(errno);
  }
  ~TmpfsMount() {
    if (mounted_) ::umount2(dir_.c_str(), MNT_DETACH);
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  bool resize(const std::string& size) {
    const std::string opts = "size=" + size;
    return ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT, opts.c_str()) == 0;
  }

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string error_;
};

int healthz(uint16_t port) {
  return httpRequest(port, "/healthz").status;
}

bool waitForHealthz(uint16_t port, int status, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (healthz(port) != status) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(20ms);
  }
  return true;
}

}  // namespace

TEST_CASE(
    "a full disk under the shadow WAL stops capture clearly; it recovers with no lost commit") {
  TempDir dir;
  const std::string app = dir.file("app.db"), rep = dir.file("replica.db");
  createBank(app);
  TmpfsMount shadow(app + "-walstream", "3m");
  if (!shadow.mounted()) {
    MESSAGE("skipped: cannot mount a tmpfs here (" << shadow.error() << ")");
    return;
  }
  PrimaryProcess primary(app, dir.file("primary"), {"--min-checkpoint-pages", "200"});
  ReplicaProcess replica(primary.url(), rep, dir.file("replica"));
  REQUIRE(waitForConvergence(app, rep, 60s));

  // Incompressible rows until the shadow WAL cannot take them (its segments are lz4 frames).
  SqliteConnection appConn(app);
  appConn.setBusyTimeout(5000);
  int committed = 0;
  auto commitBlobs = [&](int count) {
    for (int i = 0; i < count; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      appConn.exec("INSERT INTO log(n, payload) VALUES(-" + std::to_string(++committed) +
                   ", randomblob(30000))");
      // The application is not held up by walstream's trouble.
      CHECK(std::chrono::steady_clock::now() - t0 < 2s);
    }
  };
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (healthz(primary.port()) == 200 && std::chrono::steady_clock::now() < deadline) {
    commitBlobs(10);
  }
  REQUIRE(healthz(primary.port()) == 503);
  const std::string log = primary.process().stderrText();
  CHECK(log.find("No space left on device") != std::string::npos);
  commitBlobs(20);  // while capture cannot write

  // Space returns: capture recovers and the replica catches up with every commit.
  REQUIRE(shadow.resize("256m"));
  CHECK(waitForHealthz(primary.port(), 200, 30s));
  commitBlobs(5);
  CHECK(waitForConvergence(app, rep, 60s));
  const std::string after = primary.process().stderrText();
  CHECK(after.find("capture recovered") != std::string::npos);
  SqliteConnection check(rep, SQLITE_OPEN_READONLY);
  CHECK(check.queryText("PRAGMA integrity_check") == "ok");
  CHECK(check.queryInt("SELECT count(*) FROM log WHERE n < 0") == committed);
}
