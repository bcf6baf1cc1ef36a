#include "tests/soak/soak_workload.h"

#include <sqlite3.h>

#include <memory>
#include <random>

#include "core/error.h"
#include "core/file_util.h"
#include "core/sqlite_conn.h"

namespace walstream::soak {

using namespace std::chrono_literals;

namespace {

constexpr int kWriterBusyTimeoutMs = 5000;
constexpr int kCheckpointBusyTimeoutMs = 50;
constexpr int kReaderBusyTimeoutMs = 2000;

// Errors a stock reader may legitimately get from a replica that is restarting: another
// connection runs WAL recovery or holds an exclusive lock for a moment (SQLITE_BUSY), or the
// database cannot be opened yet. Everything else is a violation.
bool isTransient(const std::string& message) {
  return message.find("database is locked") != std::string::npos ||
         message.find("(database is locked)") != std::string::npos ||
         message.find("unable to open") != std::string::npos ||
         message.find("database table is locked") != std::string::npos;
}

std::string nowText() {
  const auto t = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::system_clock::now().time_since_epoch())
                     .count();
  return std::to_string(t / 1000) + "." + std::to_string(1000 + t % 1000).substr(1);
}

}  // namespace

// --- SoakWriter ---

SoakWriter::SoakWriter(std::string db, int perSecond, uint64_t seed) {
  thread_ = std::thread([this, db = std::move(db), perSecond, seed] { run(db, perSecond, seed); });
}

SoakWriter::~SoakWriter() {
  stop();
}

void SoakWriter::stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool SoakWriter::pause(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  pauseRequested_ = true;
  cv_.notify_all();
  return cv_.wait_for(lock, timeout, [&] { return paused_ || broken_.load() || stop_.load(); }) &&
         paused_;
}

void SoakWriter::resume() {
  {
    std::lock_guard lock(mu_);
    pauseRequested_ = false;
  }
  cv_.notify_all();
}

std::string SoakWriter::lastError() const {
  std::lock_guard lock(mu_);
  return lastError_;
}

void SoakWriter::noteError(const std::string& what) {
  std::lock_guard lock(mu_);
  lastError_ = what;
}

void SoakWriter::run(std::string db, int perSecond, uint64_t seed) {
  try {
    SqliteConnection c(db);
    c.setBusyTimeout(kWriterBusyTimeoutMs);
    std::mt19937_64 rng(seed);
    // The counter is the authority on the next transfer number: a failed COMMIT is checked
    // against it, so `committed_` counts exactly the transfers that are in the database.
    int64_t n = c.queryInt("SELECT v FROM meta WHERE k = 'n'");
    const auto step = std::chrono::microseconds(1'000'000 / std::max(perSecond, 1));
    auto next = std::chrono::steady_clock::now();
    auto nextCheckpoint = next + std::chrono::milliseconds(1000 + rng() % 4000);
    while (!stop_) {
      {
        std::unique_lock lock(mu_);
        if (pauseRequested_) {
          paused_ = true;
          cv_.notify_all();
          cv_.wait(lock, [&] { return !pauseRequested_ || stop_.load(); });
          paused_ = false;
          next = std::chrono::steady_clock::now();
          continue;
        }
      }
      const auto now = std::chrono::steady_clock::now();
      if (now >= nextCheckpoint) {
        // The application's own checkpoints, as README.md allows: PASSIVE ones, and TRUNCATE
        // ones that wait only briefly (walstream's pin makes them report busy while it runs;
        // while it is down they restart the WAL, which walstream answers with a new generation).
        const bool truncate = rng() % 10 < 3;
        c.setBusyTimeout(kCheckpointBusyTimeoutMs);
        try {
          const CheckpointResult r =
              c.checkpoint(truncate ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE);
          ++checkpoints_;
          if (r.busy) ++checkpointsBusy_;
        } catch (const Error& e) {
          ++checkpointsBusy_;
          noteError(std::string("checkpoint: ") + e.what());
        }
        c.setBusyTimeout(kWriterBusyTimeoutMs);
        nextCheckpoint = now + std::chrono::milliseconds(1000 + rng() % 4000);
      }
      const int64_t a = static_cast<int64_t>(rng() % 100);
      const int64_t b = (a + 1 + static_cast<int64_t>(rng() % 99)) % 100;
      const int64_t x = static_cast<int64_t>(rng() % 1000) + 1;
      const int64_t payload = 16 + static_cast<int64_t>(rng() % 200);
      try {
        c.exec("BEGIN IMMEDIATE");
        c.exec("UPDATE acct SET bal = bal - " + std::to_string(x) +
               " WHERE id = " + std::to_string(a));
        c.exec("UPDATE acct SET bal = bal + " + std::to_string(x) +
               " WHERE id = " + std::to_string(b));
        c.exec("INSERT INTO log VALUES(" + std::to_string(n + 1) + ", randomblob(" +
               std::to_string(payload) + "))");
        c.exec("UPDATE meta SET v = " + std::to_string(n + 1) + " WHERE k = 'n'");
        c.exec("COMMIT");
        ++n;
        ++committed_;
      } catch (const Error& e) {
        noteError(e.what());
        try {
          c.exec("ROLLBACK");
        } catch (const Error&) {
          // no transaction was open (BEGIN itself failed, or COMMIT ended it)
        }
        const int64_t now_n = c.queryInt("SELECT v FROM meta WHERE k = 'n'");
        if (now_n == n + 1) {  // the COMMIT reported an error after the commit took effect
          ++n;
          ++committed_;
        } else if (now_n != n) {
          throw Error("the bank counter is " + std::to_string(now_n) + ", the writer expected " +
                      std::to_string(n));
        } else {
          ++failed_;
        }
      }
      // Pacing of the workload, not a wait for a condition. After a long stall (busy timeout)
      // the schedule restarts instead of bursting to catch up.
      next += step;
      if (next < std::chrono::steady_clock::now() - 1s) next = std::chrono::steady_clock::now();
      std::this_thread::sleep_until(next);
    }
  } catch (const std::exception& e) {
    noteError(std::string("writer stopped: ") + e.what());
    std::lock_guard lock(mu_);
    broken_ = true;
    cv_.notify_all();
  }
}

// --- SoakReader ---

SoakReader::SoakReader(std::string replicaDb, bool quickCheck) {
  thread_ = std::thread([this, db = std::move(replicaDb), quickCheck] { run(db, quickCheck); });
}

SoakReader::~SoakReader() {
  stop();
}

void SoakReader::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

ReaderCounts SoakReader::counts() const {
  return {reads_.load(), violations_.load(), transient_.load()};
}

std::string SoakReader::takeViolations() {
  std::lock_guard lock(mu_);
  std::string s;
  s.swap(violationText_);
  violationLines_ = 0;
  return s;
}

std::string SoakReader::takeTransient() {
  std::lock_guard lock(mu_);
  std::string s;
  s.swap(transientText_);
  transientLines_ = 0;
  return s;
}

void SoakReader::note(bool violation, const std::string& what) {
  (violation ? violations_ : transient_)++;
  std::lock_guard lock(mu_);
  std::string& text = violation ? violationText_ : transientText_;
  int& lines = violation ? violationLines_ : transientLines_;
  if (lines < 20) {
    text += "  " + nowText() + " " + what + "\n";
    ++lines;
  }
}

void SoakReader::run(std::string db, bool quickCheck) {
  std::unique_ptr<SqliteConnection> c;
  while (!stop_) {
    if (!c) {
      if (!pathExists(db)) {
        std::this_thread::sleep_for(5ms);  // polling for the replica's first snapshot
        continue;
      }
      try {
        c = std::make_unique<SqliteConnection>(db, SQLITE_OPEN_READONLY);
        c->setBusyTimeout(kReaderBusyTimeoutMs);
      } catch (const Error& e) {
        note(!isTransient(e.what()), std::string("open: ") + e.what());
        c.reset();
        std::this_thread::sleep_for(5ms);  // polling interval before the next open
        continue;
      }
    }
    try {
      c->exec("BEGIN");
      const int64_t sum = c->queryInt("SELECT coalesce(sum(bal), 0) FROM acct");
      const int64_t count = c->queryInt("SELECT count(*) FROM log");
      const int64_t max = c->queryInt("SELECT coalesce(max(n), 0) FROM log");
      const int64_t n = c->queryInt("SELECT v FROM meta WHERE k = 'n'");
      std::string qc = "ok";
      if (quickCheck && reads_ % 50 == 0) qc = c->queryText("PRAGMA quick_check");
      c->exec("COMMIT");
      if (sum != 0 || count != max || count != n) {
        note(true, "torn state: sum=" + std::to_string(sum) + " count=" + std::to_string(count) +
                       " max=" + std::to_string(max) + " n=" + std::to_string(n));
      }
      if (qc != "ok") note(true, "quick_check: " + qc);
      ++reads_;
      // Pacing of the readers, not a wait for a condition: about 1000 checks a second each
      // leave the shared cores to the processes under test.
      std::this_thread::sleep_for(1ms);
    } catch (const Error& e) {
      const bool transient = isTransient(e.what());
      note(!transient, e.what());
      try {
        c->exec("ROLLBACK");
      } catch (const Error&) {
        // no transaction open
      }
      // A fresh connection after any error: a reader of a restarted replica would reconnect.
      c.reset();
    }
  }
}

// --- digests ---

std::string ContentDigest::str() const {
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
  return "n=" + std::to_string(n) + " rows=" + std::to_string(rows) + " hash=" + hex;
}

ContentDigest contentDigest(const std::string& db) {
  SqliteConnection c(db, SQLITE_OPEN_READONLY);
  c.setBusyTimeout(kReaderBusyTimeoutMs);
  c.exec("BEGIN");
  ContentDigest d;
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  };
  std::vector<std::string> tables;
  {
    SqliteStatement st(c, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
    while (st.step()) tables.push_back(st.columnText(0));
  }
  for (const std::string& t : tables) {
    mix(t.data(), t.size() + 1);
    sqlite3_stmt* raw = nullptr;
    const std::string sql = "SELECT * FROM \"" + t + "\" ORDER BY rowid";
    int rc = sqlite3_prepare_v2(c.handle(), sql.c_str(), -1, &raw, nullptr);
    std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> st(raw, &sqlite3_finalize);
    if (rc != SQLITE_OK) c.fail("cannot prepare \"" + sql + "\"", rc);
    const int columns = sqlite3_column_count(st.get());
    while ((rc = sqlite3_step(st.get())) == SQLITE_ROW) {
      ++d.rows;
      for (int i = 0; i < columns; ++i) {
        const int type = sqlite3_column_type(st.get(), i);
        mix(&type, sizeof type);
        const void* p = sqlite3_column_blob(st.get(), i);
        const int n = sqlite3_column_bytes(st.get(), i);
        if (p && n > 0) mix(p, static_cast<size_t>(n));
        const uint8_t end = 0xff;
        mix(&end, 1);
      }
    }
    if (rc != SQLITE_DONE) c.fail("\"" + sql + "\" failed", rc);
  }
  d.n = c.queryInt("SELECT v FROM meta WHERE k = 'n'");
  c.exec("COMMIT");
  d.hash = h;
  return d;
}

int64_t bankCounter(const std::string& db) {
  try {
    if (!pathExists(db)) return -1;
    SqliteConnection c(db, SQLITE_OPEN_READONLY);
    c.setBusyTimeout(kReaderBusyTimeoutMs);
    return c.queryInt("SELECT v FROM meta WHERE k = 'n'");
  } catch (const Error&) {
    return -1;  // no snapshot yet, or a transient lock: the caller polls again
  }
}

std::string integrityCheck(const std::string& db) {
  try {
    SqliteConnection c(db, SQLITE_OPEN_READONLY);
    c.setBusyTimeout(kReaderBusyTimeoutMs);
    return c.queryText("PRAGMA integrity_check");
  } catch (const Error& e) {
    return std::string("error: ") + e.what();
  }
}

}  // namespace walstream::soak
