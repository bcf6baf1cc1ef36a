// Capture (server/capture/database.h) when a write, sync or rename of its own files fails, through
// the file-system seam (core/file_system.h) and tests/support/faulty_file_system.h.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sqlite3.h>

#include <filesystem>

#include "core/byte_order.h"
#include "core/error.h"
#include "core/file_util.h"
#include "core/sqlite_conn.h"
#include "core/wal_format.h"
#include "server/capture/database.h"
#include "tests/support/faulty_file_system.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

// The application's database with an empty WAL, and a copy of its file (returned) that a
// generation's segments are replayed onto.
std::string createAppAndBase(const TempDir& dir, const std::string& app) {
  {
    SqliteConnection c(app, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    c.exec("PRAGMA page_size=4096");
    c.exec("PRAGMA journal_mode=WAL");
    c.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB, n INTEGER)");
    c.exec("CREATE TABLE counter(k INTEGER PRIMARY KEY, n INTEGER)");
    c.exec("INSERT INTO counter VALUES(1, 0)");
    c.checkpoint(SQLITE_CHECKPOINT_TRUNCATE);
  }
  const std::string base = dir.file("base.db");
  std::filesystem::copy_file(app, base);
  return base;
}

// The application: one connection that commits transactions, each adding one to a counter. It
// runs no checkpoint of its own (autocheckpoint off), so only capture's hand-offs restart the
// WAL while capture runs, and nothing does while it is closed.
class App {
 public:
  explicit App(const std::string& path) : path_(path), conn_(path) {
    conn_.setBusyTimeout(5000);
    conn_.exec("PRAGMA wal_autocheckpoint=0");
  }

  SqliteConnection& connection() { return conn_; }
  int committed() const { return committed_; }

  void commit(int rows) {
    conn_.exec("BEGIN IMMEDIATE");
    for (int r = 0; r < rows; ++r) {
      conn_.exec("INSERT INTO t(v, n) VALUES(randomblob(3000), " + std::to_string(committed_) +
                 ")");
    }
    conn_.exec("UPDATE counter SET n = n + 1 WHERE k = 1");
    conn_.exec("COMMIT");
    ++committed_;
  }

  // The salts of the WAL file's header (0 when it has none): they change when the WAL
  // restarts. SQLite takes no lock on the -wal, so reading it here drops none.
  uint64_t walSalts() const {
    UniqueFd fd = openFileIfExists(path_ + "-wal", O_RDONLY);
    if (!fd.valid()) return 0;
    uint8_t h[kWalHeaderSize];
    if (preadFull(fd.get(), h, sizeof h, 0, path_) != sizeof h) return 0;
    return loadBE64(h + 16);
  }

 private:
  std::string path_;
  SqliteConnection conn_;
  int committed_ = 0;
};

CaptureOptions optionsWith(FaultyFileSystem& fs) {
  CaptureOptions o;
  o.minCheckpointPages = 40;
  o.maxCheckpointPages = 400;
  o.pollInterval = 50ms;
  o.busyTimeout = 500ms;
  o.shadowRetention = 1'000'000;  // tests replay whole generations from their first index
  o.fileSystem = &fs;
  return o;
}

}  // namespace

TEST_CASE("every segment file, and every directory above it, is durable before the WAL restarts") {
  // No fault: the file system's model of durability alone (faulty_file_system.h). When a commit
  // of the application restarts the WAL, capture must already have made every frame it copied
  // durable (docs/capture.md §4), and reachable after a power failure: data, names, and the
  // names of the directories above them, the generation's included.
  TempDir dir;
  const std::string app = dir.file("app.db");
  createAppAndBase(dir, app);
  const std::string root = app + "-walstream";
  FaultyFileSystem fs;
  App application(app);
  Database db(app, optionsWith(fs));
  db.open();  // this thread is capture's thread
  int restarts = 0;
  for (int i = 0; i < 2000 && restarts < 3; ++i) {
    const uint64_t salts = application.walSalts();
    application.commit(i % 7 == 0 ? 10 : 1);
    if (salts != 0 && application.walSalts() != salts) {
      ++restarts;
      const std::vector<std::string> lost = fs.notDurable(root + "/generation", root);
      std::string names;
      for (const std::string& l : lost) names += "\n  " + l;
      CHECK_MESSAGE(lost.empty(), "restart " << restarts << ", not durable:" << names);
    }
    db.sync();
  }
  CHECK(restarts >= 3);
  db.close();
}
