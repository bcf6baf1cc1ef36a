// walstream_soak: a kill loop against the real binaries (tests/soak/README.md).
//
// For --minutes, the bank workload runs on a primary database while a `walstream primary`
// captures it and a `walstream replica` follows it, with stock readers checking the bank's
// invariant on the replica. Each round (3-25 s, random) does one random thing at a random
// moment: SIGKILL or SIGTERM the primary (restarted on the same port) or the replica, or a
// simulated power loss on the replica (tests/soak/power_loss.h). At the end of each round the
// writer pauses and the replica must reach the primary's exact content within 60 s.
//
// Exit code 0 only when no reader saw an invalid state, every integrity check passed, the
// replica converged to the primary's content after every round and at the end, every clean
// stop exited 0, and the final bank counter equals the transfers the writer committed.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/file_util.h"
#include "tests/soak/power_loss.h"
#include "tests/soak/soak_workload.h"
#include "tests/support/cluster.h"
#include "tests/support/shadow_replay.h"

namespace walstream::soak {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

std::atomic<bool> gInterrupted{false};

void onSignal(int) {
  gInterrupted = true;
}

constexpr auto kConvergenceTimeout = 60s;
constexpr auto kStopTimeout = 15s;
constexpr int kMaxSavedRounds = 10;    // failed rounds whose logs are kept (later ones: counted)
constexpr int kMaxSavedDatabases = 3;  // failed rounds whose database files are kept too

struct Options {
  double minutes = 30;
  uint64_t seed = 0;
  int rate = 300;
  std::string parentDir;
  bool keep = false;
};

[[noreturn]] void usage(const std::string& error) {
  std::cerr << "walstream_soak: " << error << "\n"
            << "usage: walstream_soak [--minutes M] [--seed S] [--rate TX_PER_S] [--dir PARENT]"
               " [--keep]\n";
  std::exit(2);
}

Options parseOptions(int argc, char** argv) {
  Options o;
  o.seed = std::random_device{}();
  const char* tmp = std::getenv("TMPDIR");
  o.parentDir = tmp && *tmp ? tmp : "/tmp";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--minutes") {
        o.minutes = std::stod(value());
      } else if (a == "--seed") {
        o.seed = std::stoull(value());
      } else if (a == "--rate") {
        o.rate = std::stoi(value());
      } else if (a == "--dir") {
        o.parentDir = value();
      } else if (a == "--help" || a == "-h") {
        std::cout << "usage: walstream_soak [--minutes M] [--seed S] [--rate TX_PER_S]"
                     " [--dir PARENT] [--keep]\n(tests/soak/README.md)\n";
        std::exit(0);
      } else if (a == "--keep") {
        o.keep = true;
      } else {
        usage("unknown argument " + a);
      }
    } catch (const std::invalid_argument&) {
      usage("bad value for " + a);
    } catch (const std::out_of_range&) {
      usage("bad value for " + a);
    }
  }
  if (o.minutes <= 0 || o.rate <= 0) usage("--minutes and --rate must be positive");
  return o;
}

std::string fmtSeconds(double s) {
  char b[32];
  std::snprintf(b, sizeof b, "%.1f", s);
  return b;
}

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

// A random delay that IS the randomization (when something happens), not a wait for a
// condition; returns early when the soak is interrupted.
void randomPause(std::chrono::milliseconds d) {
  const auto until = Clock::now() + d;
  while (!gInterrupted && Clock::now() < until) {
    std::this_thread::sleep_for(std::min<Clock::duration>(50ms, until - Clock::now()));
  }
}

// A round's failure: what went wrong, kept with the round's logs.
struct RoundFailure {
  std::string what = {};
  int64_t lostCommits = 0;
  bool violation = false;   // an invalid state or content (not a process that misbehaved)
  std::string detail = {};  // for the round's report.txt only
};

class Soak {
 public:
  explicit Soak(Options o) : o_(std::move(o)), rng_(o_.seed) {}

  int run();

 private:
  // --- processes ---
  std::string logPrefix(const std::string& what, int incarnation) const {
    char b[64];
    std::snprintf(b, sizeof b, "/logs/%s-%03d-r%04d", what.c_str(), incarnation, round_);
    return dir_ + b;
  }
  void startPrimary();
  void startReplica();
  // Signals a process and waits (bounded) for its exit; returns its exit code (nullopt when it
  // had to be SIGKILLed after kStopTimeout).
  std::optional<int> stopProcess(test::Process& p, int sig);
  void startReaders();
  void stopReaders();

  // --- round ---
  std::string doAction(std::vector<RoundFailure>& failures);
  std::string doPowerLoss();
  std::string checkRound(std::vector<RoundFailure>& failures, bool integrity);
  void checkProcessesAlive(std::vector<RoundFailure>& failures);
  void saveFailure(const std::vector<RoundFailure>& failures, const std::string& roundLine);
  void resetReplica();
  void finalCheck(std::vector<RoundFailure>& failures);

  Options o_;
  std::mt19937_64 rng_;
  std::string dir_;
  std::string primaryDb_, replicaDb_;
  Clock::time_point start_;
  int round_ = 0;

  std::unique_ptr<test::PrimaryProcess> primary_;
  std::unique_ptr<test::ReplicaProcess> replica_;
  uint16_t port_ = 0;
  int primaryIncarnation_ = 0, replicaIncarnation_ = 0;
  std::string primaryLog_, replicaLog_;  // log prefixes of the running processes
  std::vector<std::string> roundLogs_;   // log prefixes of processes that ran in this round

  std::unique_ptr<SoakWriter> writer_;
  int64_t baseCounter_ = 0;  // the bank counter before the writer started
  std::vector<std::unique_ptr<SoakReader>> readers_;
  ReaderCounts readerTotals_;  // of readers already stopped
  ReaderCounts readersAtRoundStart_;
  DurabilityTracker durability_;
  std::string lastPowerLoss_;  // the plan of this round's power loss, for failure reports

  // --- results ---
  int primaryKills_ = 0, replicaKills_ = 0, primaryTerms_ = 0, replicaTerms_ = 0;
  int powerLosses_ = 0, failedRounds_ = 0, divergentRounds_ = 0, integrityFailures_ = 0;
  int readerViolationRounds_ = 0;  // rounds in which a reader saw an invalid state
  int processFailures_ = 0, savedDatabases_ = 0;
  int64_t lostCommits_ = 0;
  std::vector<std::string> failureDirs_;
};

void Soak::startPrimary() {
  // The restarted primary takes its predecessor's port, so the replica reconnects to the same
  // URL. A start that fails (e.g. the port not free yet) is retried twice, then is a failure.
  std::string lastError;
  for (int attempt = 0; attempt < 3 && !gInterrupted; ++attempt) {
    const std::string prefix = logPrefix("primary", ++primaryIncarnation_);
    roundLogs_.push_back(prefix);
    try {
      primary_ = std::make_unique<test::PrimaryProcess>(primaryDb_, prefix,
                                                        std::vector<std::string>{}, port_);
      port_ = primary_->port();
      primaryLog_ = prefix;
      return;
    } catch (const std::exception& e) {
      lastError = e.what();
      primary_.reset();
    }
  }
  throw Error("the primary did not start on port " + std::to_string(port_) + ": " + lastError);
}

void Soak::startReplica() {
  const std::string prefix = logPrefix("replica", ++replicaIncarnation_);
  roundLogs_.push_back(prefix);
  replicaLog_ = prefix;
  // Half the incarnations checkpoint less often than by default, so that a power loss more
  // often finds frames that no checkpoint has flushed yet.
  std::vector<std::string> flags;
  if (rng_() % 2 == 0) flags = {"--min-checkpoint-pages", "4000"};
  replica_ = std::make_unique<test::ReplicaProcess>(primary_ ? primary_->url() : "", replicaDb_,
                                                    prefix, flags);
}

std::optional<int> Soak::stopProcess(test::Process& p, int sig) {
  p.signal(sig);
  if (auto code = p.wait(kStopTimeout)) return code;
  p.signal(SIGKILL);
  p.wait(kStopTimeout);
  return std::nullopt;
}

void Soak::startReaders() {
  readers_.push_back(std::make_unique<SoakReader>(replicaDb_, /*quickCheck=*/false));
  readers_.push_back(std::make_unique<SoakReader>(replicaDb_, /*quickCheck=*/true));
}

void Soak::stopReaders() {
  for (auto& r : readers_) {
    r->stop();
    const ReaderCounts c = r->counts();
    readerTotals_.reads += c.reads;
    readerTotals_.violations += c.violations;
    readerTotals_.transient += c.transient;
  }
  readers_.clear();
}

std::string Soak::doPowerLoss() {
  // The readers lose power with the machine: they are stopped first, which also lets this
  // process read the -shm without dropping a reader's POSIX locks (power_loss.h).
  stopReaders();
  const std::string positionPath = replicaDb_ + "-walstream/position";
  const std::optional<ShmState> before = readShm(replicaDb_ + "-shm");
  std::string oldPosition;
  try {
    if (pathExists(positionPath)) oldPosition = readFile(positionPath);
  } catch (const Error&) {
    // replaced between the check and the read: no old copy this time
  }
  const auto window = std::chrono::milliseconds(rng_() % 150);
  randomPause(window);  // the moment of the power loss
  stopProcess(replica_->process(), SIGKILL);
  const std::optional<ShmState> after = readShm(replicaDb_ + "-shm");
  const PowerLossPlan plan = planPowerLoss(before, after, durability_, rng_);
  // The files as the kill left them, before the loss is applied: kept if the round fails.
  const std::string keep = dir_ + "/powerloss-last";
  removeAll(keep);
  makeDirs(keep);
  for (const char* suffix : {"-wal", "-shm", "-walstream/position"}) {
    std::error_code ec;
    fs::copy_file(replicaDb_ + suffix,
                  keep + "/" + fs::path(replicaDb_ + suffix).filename().string(),
                  fs::copy_options::overwrite_existing, ec);
  }
  if (!oldPosition.empty()) {
    std::FILE* f = std::fopen((keep + "/position-before-kill").c_str(), "wb");
    if (f) {
      std::fwrite(oldPosition.data(), 1, oldPosition.size(), f);
      std::fclose(f);
    }
  }
  applyPowerLoss(replicaDb_, plan, oldPosition, rng_);
  // What survived counts as on the disk from now on.
  durability_.noteDurable(replicaDb_ + "-wal");
  ++powerLosses_;
  lastPowerLoss_ = plan.describe();
  const auto delay = std::chrono::milliseconds(rng_() % 1000);
  randomPause(delay);  // time until the machine is back
  startReplica();
  startReaders();
  return "power loss after " + std::to_string(window.count()) + " ms: " + lastPowerLoss_ +
         ", restart after " + fmtSeconds(delay.count() / 1000.0) + " s";
}

std::string Soak::doAction(std::vector<RoundFailure>& failures) {
  const uint64_t pick = rng_() % 100;
  lastPowerLoss_.clear();
  if (pick < 30 || (pick >= 80 && pick < 90)) {
    const bool kill = pick < 30;
    const std::optional<int> code = stopProcess(primary_->process(), kill ? SIGKILL : SIGTERM);
    (kill ? primaryKills_ : primaryTerms_)++;
    if (!kill && code != 0) {
      failures.push_back({"primary SIGTERM: exit " + (code ? std::to_string(*code) : "timeout")});
    }
    primary_.reset();
    const auto delay = std::chrono::milliseconds(rng_() % 2000);
    randomPause(delay);  // how long the primary stays down
    startPrimary();
    return std::string("primary ") + (kill ? "SIGKILL" : "SIGTERM") + ", restart after " +
           fmtSeconds(delay.count() / 1000.0) + " s";
  }
  if (pick < 55 || pick >= 90) {
    const bool kill = pick < 55;
    const std::optional<int> code = stopProcess(replica_->process(), kill ? SIGKILL : SIGTERM);
    (kill ? replicaKills_ : replicaTerms_)++;
    if (!kill) {
      if (code != 0) {
        failures.push_back({"replica SIGTERM: exit " + (code ? std::to_string(*code) : "timeout")});
      } else {
        durability_.noteDurable(replicaDb_ + "-wal");  // a clean stop flushes the WAL
      }
    }
    replica_.reset();
    const auto delay = std::chrono::milliseconds(rng_() % 1000);
    randomPause(delay);  // how long the replica stays down
    startReplica();
    return std::string("replica ") + (kill ? "SIGKILL" : "SIGTERM") + ", restart after " +
           fmtSeconds(delay.count() / 1000.0) + " s";
  }
  return doPowerLoss();
}

void Soak::checkProcessesAlive(std::vector<RoundFailure>& failures) {
  if (primary_ && !primary_->process().running()) {
    failures.push_back({"primary exited by itself with code " +
                        std::to_string(primary_->process().wait(0ms).value_or(-1))});
    primary_.reset();
    startPrimary();
  }
  if (replica_ && !replica_->process().running()) {
    failures.push_back({"replica exited by itself with code " +
                        std::to_string(replica_->process().wait(0ms).value_or(-1))});
    replica_.reset();
    startReplica();
  }
}

std::string Soak::checkRound(std::vector<RoundFailure>& failures, bool integrity) {
  std::ostringstream out;
  checkProcessesAlive(failures);
  if (!writer_->pause(30s)) {
    failures.push_back({"the writer did not pause: " + writer_->lastError()});
    return "writer did not pause";
  }
  const auto t0 = Clock::now();
  // Writer paused: the primary's content is fixed until resume().
  const ContentDigest p = contentDigest(primaryDb_);
  const int64_t expected = baseCounter_ + writer_->committed();
  if (p.n != expected) {
    failures.push_back({"primary counter " + std::to_string(p.n) + " != committed transfers " +
                            std::to_string(expected),
                        std::max<int64_t>(0, expected - p.n), true});
  }
  std::optional<ContentDigest> r;
  int64_t replicaN = -1;
  std::string lastError;
  const auto deadline = t0 + kConvergenceTimeout;
  while (Clock::now() < deadline && !gInterrupted) {
    replicaN = bankCounter(replicaDb_);
    if (replicaN == p.n) {
      try {
        r = contentDigest(replicaDb_);
        if (*r == p) break;
      } catch (const Error& e) {
        lastError = e.what();
      }
    }
    std::this_thread::sleep_for(20ms);  // polling interval for the replica to catch up
  }
  const double convergeSeconds = secondsSince(t0);
  bool converged = r && *r == p;
  if (converged) {
    out << "converged in " << fmtSeconds(convergeSeconds) << " s at n=" << p.n;
  } else if (!gInterrupted) {
    RoundFailure f;
    f.violation = true;
    if (replicaN >= 0 && replicaN < p.n) {
      f.lostCommits = p.n - replicaN;
      f.what = "replica did not converge in " + fmtSeconds(convergeSeconds) +
               " s: n=" + std::to_string(replicaN) + " < primary n=" + std::to_string(p.n);
    } else {
      ++divergentRounds_;
      f.what = "replica content differs from the primary's: primary " + p.str() + ", replica " +
               (r ? r->str() : "n=" + std::to_string(replicaN)) +
               (lastError.empty() ? "" : " (" + lastError + ")");
    }
    failures.push_back(f);
    out << "NOT converged";
  }
  writer_->resume();
  if (integrity && converged) {
    const std::string ic = integrityCheck(replicaDb_);
    if (ic != "ok") {
      ++integrityFailures_;
      failures.push_back({"integrity_check: " + ic.substr(0, 500), 0, true});
    }
    out << ", integrity " << (ic == "ok" ? "ok" : "FAILED");
  }
  return out.str();
}

void Soak::saveFailure(const std::vector<RoundFailure>& failures, const std::string& roundLine) {
  stopReaders();  // the round's reader messages are in `failures`
  char name[32];
  std::snprintf(name, sizeof name, "/failures/round-%04d", round_);
  const std::string d = dir_ + name;
  makeDirs(d);
  failureDirs_.push_back(d);
  std::ofstream report(d + "/report.txt");
  report << roundLine << "\n";
  for (const RoundFailure& f : failures) {
    report << "failure: " << f.what << "\n";
    if (!f.detail.empty()) report << f.detail;
  }
  if (!lastPowerLoss_.empty()) report << "power loss: " << lastPowerLoss_ << "\n";
  std::error_code ec;
  for (const std::string& prefix : roundLogs_) {
    for (const char* ext : {".out", ".err"}) {
      fs::copy_file(prefix + ext, d + "/" + fs::path(prefix).filename().string() + ext,
                    fs::copy_options::overwrite_existing, ec);
    }
  }
  if (pathExists(dir_ + "/powerloss-last") && !lastPowerLoss_.empty()) {
    fs::copy(dir_ + "/powerloss-last", d + "/powerloss-before", fs::copy_options::recursive, ec);
  }
  if (savedDatabases_ < kMaxSavedDatabases) {
    ++savedDatabases_;
    // The replica's and the primary's files as they are now (both still run: a copy may be
    // mid-write; the report above is the authority). `cp` copies them in a child process, whose
    // descriptors' closing cannot drop the POSIX locks of this process's SQLite connections.
    test::runToCompletion({"/bin/cp", replicaDb_, replicaDb_ + "-wal",
                           replicaDb_ + "-walstream/position", primaryDb_, primaryDb_ + "-wal", d},
                          d + "/cp", 120s);
  }
}

void Soak::resetReplica() {
  // After a failed round the replica starts over from a snapshot, so that later rounds test
  // something again; the failure is already counted and its files kept.
  stopReaders();
  if (replica_) stopProcess(replica_->process(), SIGKILL);
  replica_.reset();
  removeAll(dirName(replicaDb_));
  makeDirs(dirName(replicaDb_));
  durability_.durableSalt.reset();
  startReplica();
  startReaders();
}

void Soak::finalCheck(std::vector<RoundFailure>& failures) {
  if (!writer_->pause(30s)) {
    failures.push_back({"the writer did not pause: " + writer_->lastError()});
    return;
  }
  const int64_t expected = baseCounter_ + writer_->committed();
  const bool converged = test::waitForConvergence(primaryDb_, replicaDb_, kConvergenceTimeout);
  const int64_t primaryN = bankCounter(primaryDb_);
  const int64_t replicaN = bankCounter(replicaDb_);
  if (primaryN != expected) {
    failures.push_back({"final: primary counter " + std::to_string(primaryN) +
                            " != committed transfers " + std::to_string(expected),
                        std::max<int64_t>(0, expected - primaryN), true});
  }
  if (!converged) {
    failures.push_back(
        {"final: replica content (dumpDatabase) differs from the primary's: "
         "primary n=" +
             std::to_string(primaryN) + ", replica n=" + std::to_string(replicaN),
         std::max<int64_t>(0, expected - replicaN), true});
  }
  const std::string ic = integrityCheck(replicaDb_);
  if (ic != "ok") {
    ++integrityFailures_;
    failures.push_back({"final integrity_check: " + ic.substr(0, 500), 0, true});
  }
  std::cout << "final: writer committed " << writer_->committed() << " transfers ("
            << writer_->failed() << " rolled back busy, " << writer_->checkpoints()
            << " checkpoints, " << writer_->checkpointsBusy() << " busy), primary n=" << primaryN
            << ", replica n=" << replicaN << ", dumpDatabase "
            << (converged ? "equal" : "DIFFERENT") << ", integrity " << (ic == "ok" ? "ok" : ic)
            << std::endl;
}

int Soak::run() {
  std::string tmpl = o_.parentDir + "/walstream-soak-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw Error("mkdtemp failed for " + tmpl);
  dir_ = tmpl;
  makeDirs(dir_ + "/logs");
  makeDirs(dir_ + "/replica");
  primaryDb_ = dir_ + "/app.db";
  replicaDb_ = dir_ + "/replica/replica.db";
  std::cout << "soak: " << o_.minutes << " min, seed " << o_.seed << ", " << o_.rate
            << " tx/s, walstream " << WALSTREAM_BINARY << ", directory " << dir_ << std::endl;

  test::createBank(primaryDb_);
  baseCounter_ = bankCounter(primaryDb_);
  start_ = Clock::now();
  const auto end = start_ + std::chrono::duration_cast<Clock::duration>(
                                std::chrono::duration<double>(o_.minutes * 60));
  int exitCode = 0;
  std::vector<RoundFailure> startFailures;
  try {
    startPrimary();
    startReplica();
    writer_ = std::make_unique<SoakWriter>(primaryDb_, o_.rate, rng_());
    startReaders();
    readersAtRoundStart_ = {};

    while (Clock::now() < end && !gInterrupted) {
      ++round_;
      roundLogs_ = {primaryLog_, replicaLog_};  // the processes running into this round
      const int incarnationAtStart = replicaIncarnation_;
      const int snapshotsAtStart = replica_ ? replica_->snapshotsApplied() : 0;
      const double roundStart = secondsSince(start_);
      std::vector<RoundFailure> failures;
      const auto length = std::chrono::milliseconds(3000 + rng_() % 22000);
      const auto before =
          std::chrono::milliseconds(length.count() / 5 + rng_() % (length.count() / 2));
      randomPause(before);  // when the action happens within the round
      if (gInterrupted) {
        --round_;  // rounds counts the rounds that were checked
        break;
      }
      std::string action;
      try {
        action = doAction(failures);
      } catch (const std::exception& e) {
        ++processFailures_;
        failures.push_back({std::string("action failed: ") + e.what()});
        action = "action failed";
        if (!primary_) startPrimary();
        if (!replica_) startReplica();
        if (readers_.empty()) startReaders();
      }
      randomPause(length - before);  // the rest of the round under load
      if (gInterrupted) {
        --round_;
        break;
      }
      const bool integrity = round_ % 3 == 0 || !lastPowerLoss_.empty();
      std::string outcome;
      try {
        outcome = checkRound(failures, integrity);
      } catch (const std::exception& e) {
        writer_->resume();
        failures.push_back({std::string("check failed: ") + e.what()});
        outcome = "check failed";
      }

      ReaderCounts now = readerTotals_;
      std::string violationText, transientText;
      for (auto& r : readers_) {
        const ReaderCounts c = r->counts();
        now.reads += c.reads;
        now.violations += c.violations;
        now.transient += c.transient;
        violationText += r->takeViolations();
        transientText += r->takeTransient();
      }
      const int64_t newViolations = now.violations - readersAtRoundStart_.violations;
      if (newViolations > 0) {
        ++readerViolationRounds_;
        // The first lines on the console, up to 20 per reader in the round's report.
        size_t cut = 0;
        for (int i = 0; i < 3 && cut != std::string::npos; ++i) {
          cut = violationText.find('\n', i == 0 ? 0 : cut + 1);
        }
        failures.push_back({std::to_string(newViolations) + " reader violations, the first:\n" +
                                violationText.substr(0, cut),
                            0, true, violationText});
      }
      // Snapshots the replica applied in this round (its log counts them per process).
      const int replicaSnapshots =
          (replica_ ? replica_->snapshotsApplied() : 0) -
          (replicaIncarnation_ == incarnationAtStart ? snapshotsAtStart : 0);
      std::ostringstream line;
      line << "[" << fmtSeconds(roundStart) << " s] round " << round_ << ": " << action << " -> "
           << outcome << "; replica snapshots " << replicaSnapshots << "; reads "
           << (now.reads - readersAtRoundStart_.reads) << " (+" << newViolations << " violations, +"
           << (now.transient - readersAtRoundStart_.transient) << " transient)"
           << (failures.empty() ? "" : " FAILED");
      std::cout << line.str() << std::endl;
      if (!transientText.empty()) std::cout << "  transient reader errors:\n" << transientText;
      readersAtRoundStart_ = now;
      for (const RoundFailure& f : failures) {
        std::cout << "  failure: " << f.what << std::endl;
        lostCommits_ += f.lostCommits;
      }
      if (!failures.empty()) {
        ++failedRounds_;
        if (failedRounds_ <= kMaxSavedRounds) {
          saveFailure(failures, line.str());
          std::cout << "  logs kept in " << failureDirs_.back() << std::endl;
        } else {
          stopReaders();
        }
        if (std::any_of(failures.begin(), failures.end(),
                        [](const RoundFailure& f) { return f.violation; })) {
          resetReplica();
        } else {
          startReaders();
        }
        readersAtRoundStart_ = readerTotals_;
      } else {
        // Logs of processes no longer running are not needed any more.
        for (const std::string& prefix : roundLogs_) {
          if (prefix == primaryLog_ || prefix == replicaLog_) continue;
          ::unlink((prefix + ".out").c_str());
          ::unlink((prefix + ".err").c_str());
        }
      }
    }
    if (!gInterrupted) {
      std::vector<RoundFailure> failures;
      finalCheck(failures);
      for (const RoundFailure& f : failures) {
        std::cout << "  failure: " << f.what << std::endl;
        lostCommits_ += f.lostCommits;
      }
      if (!failures.empty()) {
        ++failedRounds_;
        saveFailure(failures, "final check");
        std::cout << "  logs kept in " << failureDirs_.back() << std::endl;
      }
    }
  } catch (const std::exception& e) {
    std::cout << "soak: aborted: " << e.what() << std::endl;
    ++processFailures_;
    exitCode = 1;
  }
  if (writer_) writer_->stop();
  stopReaders();
  const bool writerBroken = writer_ && writer_->broken();
  if (writerBroken) std::cout << "soak: the writer stopped: " << writer_->lastError() << std::endl;
  if (replica_) stopProcess(replica_->process(), SIGTERM);
  if (primary_) stopProcess(primary_->process(), SIGTERM);
  replica_.reset();
  primary_.reset();

  const int64_t violations = readerTotals_.violations + integrityFailures_ + divergentRounds_;
  const double elapsed = secondsSince(start_);
  std::cout << "soak: " << round_ << " rounds in " << fmtSeconds(elapsed / 60) << " min, "
            << primaryKills_ << " primary kills, " << replicaKills_ << " replica kills, "
            << powerLosses_ << " power losses, " << primaryTerms_ << "+" << replicaTerms_
            << " clean stops (primary+replica), " << violations << " violations, " << lostCommits_
            << " lost commits" << std::endl;
  std::cout << "soak: readers " << readerTotals_.reads << " reads, " << readerTotals_.violations
            << " invalid states (in " << readerViolationRounds_ << " rounds), "
            << readerTotals_.transient << " transient errors; " << integrityFailures_
            << " integrity failures, " << divergentRounds_ << " divergent rounds, " << failedRounds_
            << " failed rounds, " << processFailures_ << " process failures; seed " << o_.seed
            << std::endl;
  if (gInterrupted) std::cout << "soak: interrupted" << std::endl;
  const bool ok = exitCode == 0 && failedRounds_ == 0 && violations == 0 && lostCommits_ == 0 &&
                  processFailures_ == 0 && !writerBroken;
  if (!ok || o_.keep) {
    std::cout << "soak: files kept in " << dir_ << std::endl;
  } else {
    removeAll(dir_);
  }
  if (!ok) return 1;
  return gInterrupted ? 130 : 0;
}

}  // namespace
}  // namespace walstream::soak

int main(int argc, char** argv) {
  struct sigaction sa {};
  sa.sa_handler = walstream::soak::onSignal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  try {
    walstream::soak::Soak soak(walstream::soak::parseOptions(argc, argv));
    return soak.run();
  } catch (const std::exception& e) {
    std::cerr << "walstream_soak: " << e.what() << std::endl;
    return 1;
  }
}
