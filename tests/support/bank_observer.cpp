#include "tests/support/bank_observer.h"

#include <sqlite3.h>

#include <algorithm>
#include <stdexcept>
#include <thread>

#include "core/error.h"
#include "core/sqlite_conn.h"
#include "tests/support/primary_status.h"

namespace walstream::test {

namespace {

std::string newBank(const std::string& path) {
  createBank(path);
  return path;
}

}  // namespace

ObservedBank::ObservedBank(const TempDir& dir, std::vector<std::string> primaryFlags,
                           std::vector<std::string> primaryLauncher)
    : db(newBank(dir.file("app.db"))),
      replicaDb(dir.file("replica.db")),
      primary(db, dir.file("primary"), std::move(primaryFlags), 0, std::move(primaryLauncher)),
      replica((waitForCapture(primary.port()), primary.url()), replicaDb, dir.file("replica")) {
  if (replica.waitForSnapshots(1, std::chrono::seconds(30)) != 1) {
    throw std::runtime_error("the replica did not apply its snapshot within 30 s");
  }
  generation = fetchStatus(primary.port()).databases.at(0).generation;
}

BankWindow observeBank(const BankWriter& writer, const std::string& replicaDb,
                       std::chrono::milliseconds minimum, std::chrono::milliseconds maximum,
                       const std::function<bool()>& busy) {
  using Clock = std::chrono::steady_clock;
  SqliteConnection replica(replicaDb, SQLITE_OPEN_READONLY);
  replica.setBusyTimeout(1000);
  BankWindow out;
  const auto start = Clock::now();
  const int first = writer.transfers();
  const auto longest = std::max(minimum, maximum);
  for (;;) {
    const auto now = Clock::now();
    const bool longEnough = now - start >= minimum;
    if ((longEnough && !busy()) || now - start >= longest) break;
    // Writer first: the replica's count, read after it, can only be larger than it was then.
    const int written = writer.transfers();
    int applied = written;
    try {
      applied = static_cast<int>(replica.queryInt("SELECT v FROM meta WHERE k = 'n'"));
    } catch (const Error&) {
      // a reader may briefly meet the replica's own checkpoint; the next sample counts
    }
    out.maxBehind = std::max(out.maxBehind, written - applied);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  out.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  out.transfersPerSecond = (writer.transfers() - first) / out.seconds;
  return out;
}

}  // namespace walstream::test
