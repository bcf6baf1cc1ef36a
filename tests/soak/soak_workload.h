// The soak's workload (tests/soak/README.md): the bank of tests/support/cluster.h written on the
// primary by an application writer that can be paused and runs its own checkpoints, stock-SQLite
// readers on the replica that tell invariant violations from transient lock errors, and a
// content digest of a database for convergence checks.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace walstream::soak {

// Transfers on the primary database (the bank of createBank()) at about `perSecond`, on its own
// connection, with a PASSIVE or TRUNCATE checkpoint (50 ms busy timeout) every 1-5 s, whether
// walstream runs or not. Every transfer is one transaction: two balance updates (sum stays 0),
// one log row numbered n, and meta 'n' set to n.
class SoakWriter {
 public:
  SoakWriter(std::string db, int perSecond, uint64_t seed);
  ~SoakWriter();
  SoakWriter(const SoakWriter&) = delete;
  SoakWriter& operator=(const SoakWriter&) = delete;

  void stop();
  // Returns once the writer sits between transactions (no transaction open) and will start no
  // new one until resume(); false when that did not happen within `timeout`.
  bool pause(std::chrono::milliseconds timeout);
  void resume();

  int64_t committed() const { return committed_.load(); }  // transfers whose COMMIT succeeded
  int64_t failed() const { return failed_.load(); }        // transfers rolled back (busy)
  int64_t checkpoints() const { return checkpoints_.load(); }
  int64_t checkpointsBusy() const { return checkpointsBusy_.load(); }
  bool broken() const { return broken_.load(); }  // the writer thread stopped on an error
  std::string lastError() const;

 private:
  void run(std::string db, int perSecond, uint64_t seed);
  void noteError(const std::string& what);

  std::atomic<bool> stop_{false};
  std::atomic<int64_t> committed_{0};
  std::atomic<int64_t> failed_{0};
  std::atomic<int64_t> checkpoints_{0};
  std::atomic<int64_t> checkpointsBusy_{0};
  std::atomic<bool> broken_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool pauseRequested_ = false;  // guarded by mu_
  bool paused_ = false;          // guarded by mu_
  std::string lastError_;        // guarded by mu_
  std::thread thread_;
};

// What a reader saw. Violations are states the primary never had or a damaged file (torn bank
// invariant, "malformed", quick_check not ok, any other SQLite error); transient errors are
// SQLITE_BUSY / "database is locked" and failures to open, which a stock reader may get while
// the replica is dead, restarting or recovering its WAL (tests/soak/README.md says why).
struct ReaderCounts {
  int64_t reads = 0;
  int64_t violations = 0;
  int64_t transient = 0;
};

// Reads the replica with stock SQLite, read-only, in a loop: one read transaction per check of
// sum(bal) == 0 and count(log) == max(n) == meta n, and a quick_check every 50 reads when asked.
class SoakReader {
 public:
  SoakReader(std::string replicaDb, bool quickCheck);
  ~SoakReader();
  SoakReader(const SoakReader&) = delete;
  SoakReader& operator=(const SoakReader&) = delete;

  void stop();  // joins; the reader's connection is closed when this returns
  ReaderCounts counts() const;
  // Violation and transient messages not yet taken, then forgotten (at most 20 of each kept).
  std::string takeViolations();
  std::string takeTransient();

 private:
  void run(std::string db, bool quickCheck);
  void note(bool violation, const std::string& what);

  std::atomic<bool> stop_{false};
  std::atomic<int64_t> reads_{0};
  std::atomic<int64_t> violations_{0};
  std::atomic<int64_t> transient_{0};
  mutable std::mutex mu_;
  std::string violationText_;  // guarded by mu_
  std::string transientText_;  // guarded by mu_
  int violationLines_ = 0;     // guarded by mu_
  int transientLines_ = 0;     // guarded by mu_
  std::thread thread_;
};

// A database's whole content in one read transaction: the bank counter and an FNV-1a hash of
// every row of every table (in name, then rowid order). Equal digests mean equal content (up to
// hash collisions; the end of the soak compares dumpDatabase() text as well). Throws Error.
struct ContentDigest {
  int64_t n = -1;  // meta 'n': the number of transfers in the database
  int64_t rows = 0;
  uint64_t hash = 0;
  friend bool operator==(const ContentDigest&, const ContentDigest&) = default;
  std::string str() const;
};
ContentDigest contentDigest(const std::string& db);

// meta 'n' of a database, read-only; nullopt-like -1 when it cannot be read (yet).
int64_t bankCounter(const std::string& db);

// PRAGMA integrity_check, read-only: "ok" or SQLite's answer (or the error).
std::string integrityCheck(const std::string& db);

}  // namespace walstream::soak
