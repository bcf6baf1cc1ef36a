#include "tests/support/cluster.h"
#include "tests/support/time_scale.h"

#include <doctest/doctest.h>
#include <signal.h>
#include <sqlite3.h>

#include <random>
#include <regex>

#include "core/error.h"
#include "core/file_util.h"
#include "core/sqlite_conn.h"
#include "tests/support/shadow_replay.h"

namespace walstream::test {

using namespace std::chrono_literals;

PrimaryProcess::PrimaryProcess(const std::string& db, const std::string& logPrefix,
                               std::vector<std::string> extraFlags, uint16_t port,
                               std::vector<std::string> launcher) {
  std::vector<std::string> argv = std::move(launcher);
  for (std::string arg : {std::string(WALSTREAM_BINARY), std::string("primary"),
                          std::string("--http"), "127.0.0.1:" + std::to_string(port)}) {
    argv.push_back(std::move(arg));
  }
  argv.insert(argv.end(), extraFlags.begin(), extraFlags.end());
  argv.push_back(db);
  process_ = std::make_unique<Process>(argv, logPrefix);
  const std::string log = process_->waitForStderr("listening on http", 30s);
  std::smatch m;
  if (!std::regex_search(log, m, std::regex("listening on (https?)://127\\.0\\.0\\.1:([0-9]+)"))) {
    throw std::runtime_error("primary did not start: " + process_->stderrText());
  }
  scheme_ = m[1];
  port_ = static_cast<uint16_t>(std::stoi(m[2]));
}

ReplicaProcess::ReplicaProcess(const std::string& upstreamUrl, const std::string& localDb,
                               const std::string& logPrefix, std::vector<std::string> extraFlags) {
  std::vector<std::string> argv = {WALSTREAM_BINARY, "replica",     "--upstream",
                                   upstreamUrl,      "--heartbeat", "200ms"};
  argv.insert(argv.end(), extraFlags.begin(), extraFlags.end());
  argv.push_back(localDb);
  process_ = std::make_unique<Process>(argv, logPrefix);
}

int ReplicaProcess::snapshotsApplied() const {
  const std::string log = process_->stderrText();
  int n = 0;
  for (size_t at = 0; (at = log.find("snapshot applied at", at)) != std::string::npos; ++at) ++n;
  return n;
}

int ReplicaProcess::waitForSnapshots(int atLeast, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const int n = snapshotsApplied();
    if (n >= atLeast || std::chrono::steady_clock::now() >= deadline) return n;
    std::this_thread::sleep_for(10ms);
  }
}

std::string waitForServedStream(Process& replica, std::chrono::milliseconds timeout) {
  const std::string log = replica.waitForStderr("serving the stream of", scaled(timeout));
  std::smatch m;
  if (!std::regex_search(
          log, m, std::regex("serving the stream of [^ ]+ on (https?://127\\.0\\.0\\.1:[0-9]+)"))) {
    throw std::runtime_error("the replica does not serve its stream: " + replica.stderrText());
  }
  return m[1];
}

void createBank(const std::string& db) {
  SqliteConnection c(db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  c.exec("PRAGMA journal_mode=WAL");
  c.exec("CREATE TABLE acct(id INTEGER PRIMARY KEY, bal INTEGER NOT NULL)");
  c.exec("CREATE TABLE log(n INTEGER PRIMARY KEY, payload BLOB)");
  c.exec("CREATE TABLE meta(k TEXT PRIMARY KEY, v INTEGER)");
  c.exec("BEGIN");
  for (int i = 0; i < 100; ++i) c.exec("INSERT INTO acct VALUES(" + std::to_string(i) + ", 0)");
  c.exec("INSERT INTO meta VALUES('n', 0)");
  c.exec("COMMIT");
}

BankWriter::BankWriter(const std::string& db, int perSecond, int maxTransfers) {
  thread_ = std::thread([this, db, perSecond, maxTransfers] {
    try {
      run(db, perSecond, maxTransfers);
    } catch (const std::exception& e) {
      std::lock_guard lock(mu_);
      failure_ = e.what();
    }
  });
}

void BankWriter::run(const std::string& db, int perSecond, int maxTransfers) {
  SqliteConnection c(db);
  c.setBusyTimeout(5000);
  std::mt19937 rng(7);
  auto next = std::chrono::steady_clock::now();
  const auto step = perSecond > 0 ? std::chrono::microseconds(1'000'000 / perSecond)
                                  : std::chrono::microseconds(0);
  // Transfers continue the numbering of earlier writers on the same bank.
  const int first = static_cast<int>(c.queryInt("SELECT v FROM meta WHERE k = 'n'")) + 1;
  for (int n = first; n < first + maxTransfers && !stop_; ++n) {
    const int a = static_cast<int>(rng() % 100);
    const int b = (a + 1 + static_cast<int>(rng() % 99)) % 100;
    const int x = static_cast<int>(rng() % 1000) + 1;
    c.exec("BEGIN IMMEDIATE");
    c.exec("UPDATE acct SET bal = bal - " + std::to_string(x) + " WHERE id = " + std::to_string(a));
    c.exec("UPDATE acct SET bal = bal + " + std::to_string(x) + " WHERE id = " + std::to_string(b));
    c.exec("INSERT INTO log VALUES(" + std::to_string(n) + ", randomblob(" +
           std::to_string(50 + rng() % 400) + "))");
    c.exec("UPDATE meta SET v = " + std::to_string(n) + " WHERE k = 'n'");
    c.exec("COMMIT");
    done_ = n - first + 1;
    if (perSecond > 0) {  // pacing of the workload, not a wait for a condition
      next += step;
      std::this_thread::sleep_until(next);
    }
  }
}

BankWriter::~BankWriter() {
  stop();
}

std::string BankWriter::failure() const {
  std::lock_guard lock(mu_);
  return failure_;
}

void BankWriter::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mu_);
  if (!failure_.empty() && !failureReported_) {
    failureReported_ = true;
    FAIL_CHECK("the bank's writer stopped after " << done_.load() << " transfers: " << failure_);
  }
}

void BankWriter::waitFor(int transfers, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (done_.load() < transfers && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(5ms);
  }
}

BankReader::BankReader(const std::string& replicaDb, bool quickCheck) {
  thread_ = std::thread([this, replicaDb, quickCheck] {
    std::unique_ptr<SqliteConnection> c;
    auto problem = [&](const std::string& what) {
      ++violations_;
      std::lock_guard lock(mu_);
      if (firstProblem_.empty()) firstProblem_ = what;
    };
    while (!stop_) {
      if (!c) {
        if (!pathExists(replicaDb)) {
          std::this_thread::sleep_for(5ms);
          continue;
        }
        c = std::make_unique<SqliteConnection>(replicaDb, SQLITE_OPEN_READONLY);
        c->setBusyTimeout(5000);
      }
      try {
        c->exec("BEGIN");
        const int64_t sum = c->queryInt("SELECT sum(bal) FROM acct");
        const int64_t count = c->queryInt("SELECT count(*) FROM log");
        const int64_t max = c->queryInt("SELECT coalesce(max(n), 0) FROM log");
        const int64_t n = c->queryInt("SELECT v FROM meta WHERE k = 'n'");
        if (quickCheck && reads_ % 50 == 0) {
          const std::string qc = c->queryText("PRAGMA quick_check");
          if (qc != "ok") problem("quick_check: " + qc);
        }
        c->exec("COMMIT");
        if (sum != 0 || count != max || count != n) {
          problem("torn state: sum=" + std::to_string(sum) + " count=" + std::to_string(count) +
                  " max=" + std::to_string(max) + " n=" + std::to_string(n));
        }
        ++reads_;
      } catch (const Error& e) {
        problem(e.what());
        try {
          c->exec("ROLLBACK");
        } catch (const Error&) {
        }
      }
    }
  });
}

BankReader::~BankReader() {
  stop();
}

void BankReader::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

std::string BankReader::firstProblem() const {
  std::lock_guard lock(mu_);
  return firstProblem_;
}

bool waitForConvergence(const std::string& primaryDb, const std::string& replicaDb,
                        std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      if (pathExists(replicaDb) && dumpDatabase(replicaDb) == dumpDatabase(primaryDb)) return true;
    } catch (const Error&) {
      // the replica does not exist or has no tables yet
    }
    std::this_thread::sleep_for(20ms);
  }
  return false;
}

}  // namespace walstream::test
