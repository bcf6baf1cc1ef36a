// Integration-test harness: a real `walstream primary` and `walstream replica` on loopback with
// ephemeral ports, a bank-transfer workload on the primary, and readers checking its invariant
// on the replica. Every process is stopped (SIGKILL as a last resort) when its object goes.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "tests/support/process.h"

namespace walstream::test {

// Starts `walstream primary --http 127.0.0.1:0 DB` and waits (bounded) for its listening line
// (https:// when the flags ask for TLS).
class PrimaryProcess {
 public:
  // port 0: ephemeral. A restarted primary can take its predecessor's port. `launcher` comes
  // before the binary on the command line (e.g. `prlimit --nofile=256:256 --`).
  PrimaryProcess(const std::string& db, const std::string& logPrefix,
                 std::vector<std::string> extraFlags = {}, uint16_t port = 0,
                 std::vector<std::string> launcher = {});
  std::string url() const { return scheme_ + "://127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }
  Process& process() { return *process_; }

 private:
  std::unique_ptr<Process> process_;
  uint16_t port_ = 0;
  std::string scheme_ = "http";
};

class ReplicaProcess {
 public:
  ReplicaProcess(const std::string& upstreamUrl, const std::string& localDb,
                 const std::string& logPrefix, std::vector<std::string> extraFlags = {});
  Process& process() { return *process_; }
  // How many times the replica logged that it applied a snapshot.
  int snapshotsApplied() const;
  // snapshotsApplied() once it reaches `atLeast`, or when `timeout` has passed: the log line
  // reaches this process through a pipe, a moment after the snapshot is in LOCAL_DB.
  int waitForSnapshots(int atLeast, std::chrono::milliseconds timeout) const;

 private:
  std::unique_ptr<Process> process_;
};

// `walstream replica --serve-stream 127.0.0.1:0` (docs/cascading.md): the URL it serves
// downstream replicas on, once it has logged it (bounded by `timeout`, scaled). Throws when it
// did not.
std::string waitForServedStream(Process& replica, std::chrono::milliseconds timeout);

// The bank: 100 accounts whose balances always sum to 0, a log table with one row per transfer,
// and a counter equal to the number of transfers.
void createBank(const std::string& db);

// Runs transfers on the primary from a thread at about `perSecond` (0 = as fast as possible)
// until stop() or `maxTransfers`.
class BankWriter {
 public:
  BankWriter(const std::string& db, int perSecond, int maxTransfers);
  ~BankWriter();
  void stop();
  int transfers() const { return done_.load(); }  // by this writer
  void waitFor(int transfers, std::chrono::milliseconds timeout);
  // Why the writer stopped before it was told to ("" while it has not): it is also reported
  // as a failed check by stop(), on the test's thread.
  std::string failure() const;

 private:
  void run(const std::string& db, int perSecond, int maxTransfers);

  std::atomic<bool> stop_{false};
  std::atomic<int> done_{0};
  mutable std::mutex mu_;
  std::string failure_;
  bool failureReported_ = false;
  std::thread thread_;
};

// Reads the replica with stock SQLite (read-only) in a loop: every snapshot must satisfy the
// bank's invariant; any error or violation is counted with its message kept.
class BankReader {
 public:
  explicit BankReader(const std::string& replicaDb, bool quickCheck = false);
  ~BankReader();
  void stop();
  int reads() const { return reads_.load(); }
  int violations() const { return violations_.load(); }
  std::string firstProblem() const;

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> reads_{0};
  std::atomic<int> violations_{0};
  mutable std::mutex mu_;
  std::string firstProblem_;
  std::thread thread_;
};

// Polls (bounded) until the replica's rows equal the primary's; returns whether they did.
bool waitForConvergence(const std::string& primaryDb, const std::string& replicaDb,
                        std::chrono::milliseconds timeout);

}  // namespace walstream::test
