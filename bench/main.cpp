// walstream_bench: runs the benchmark scenarios (scenarios.h) against a real walstream binary,
// prints a table, and writes one JSON object per scenario, one per line, to the results file.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "bench/bench_config.h"
#include "bench/median_summary.h"
#include "bench/scenario_result.h"
#include "bench/scenarios.h"

using namespace walstream::bench;

namespace {

constexpr const char* kUsage =
    "Usage: walstream_bench [--walstream PATH] [--scenario NAME[,NAME...]] [--duration SECONDS]\n"
    "                       [--quick] [--runs N] [--poll-pause-us N] [--s3-restore-mib N]\n"
    "                       [--results PATH] [--list]\n"
    "\n"
    "  --walstream PATH   the binary under test (default: the one built with this benchmark)\n"
    "  --scenario NAMES   run only these scenarios (repeatable; see --list)\n"
    "  --duration SECONDS each timed writer phase (default 10; 3 with --quick)\n"
    "  --quick            short run: 3 s phases, 256 MiB bootstrap and snapshot restore,\n"
    "                     30,000-transaction catch-up, 200,000-transaction WAL restore\n"
    "  --runs N           run every scenario N times (round by round) and report medians\n"
    "  --poll-pause-us N  sleep N us between visibility polls (default 50; 0: a tight loop)\n"
    "  --s3-restore-mib N database size of restore_snapshot_s3 (default 1024; 256 with --quick)\n"
    "  --results PATH     JSON lines output (default: bench/results.json in the source tree)\n"
    "  --list             list the scenarios and exit\n";

struct Args {
  BenchConfig config;
  std::set<std::string> only;
  std::string results = WALSTREAM_BENCH_RESULTS;
  bool list = false;
  int runs = 1;
};

[[noreturn]] void usageError(const std::string& message) {
  std::fprintf(stderr, "walstream_bench: %s\n\n%s", message.c_str(), kUsage);
  std::exit(2);
}

Args parseArgs(int argc, char** argv) {
  Args args;
  args.config.walstream = WALSTREAM_BINARY;
  double durationSeconds = 0;
  uint64_t s3RestoreMib = 0;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const auto value = [&]() -> std::string {
      if (i + 1 >= argc) usageError(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--walstream") {
      args.config.walstream = value();
    } else if (arg == "--scenario") {
      std::stringstream names(value());
      for (std::string name; std::getline(names, name, ',');) {
        if (!name.empty()) args.only.insert(name);
      }
    } else if (arg == "--duration") {
      const std::string v = value();
      char* end = nullptr;
      durationSeconds = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || !(durationSeconds >= 0.5 && durationSeconds <= 600)) {
        usageError("--duration wants seconds from 0.5 to 600, not \"" + v + "\"");
      }
    } else if (arg == "--runs") {
      const std::string v = value();
      char* end = nullptr;
      const long n = std::strtol(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || n < 1 || n > 25) {
        usageError("--runs wants 1 to 25, not \"" + v + "\"");
      }
      args.runs = static_cast<int>(n);
    } else if (arg == "--quick") {
      args.config.quick = true;
    } else if (arg == "--poll-pause-us") {
      const std::string v = value();
      char* end = nullptr;
      const long long us = std::strtoll(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || us < 0 || us > 1'000'000) {
        usageError("--poll-pause-us wants 0 to 1000000, not \"" + v + "\"");
      }
      args.config.pollPause = std::chrono::microseconds(us);
    } else if (arg == "--s3-restore-mib") {
      const std::string v = value();
      char* end = nullptr;
      const long long mib = std::strtoll(v.c_str(), &end, 10);
      if (end == v.c_str() || *end != '\0' || mib < 1 || mib > 65536) {
        usageError("--s3-restore-mib wants 1 to 65536, not \"" + v + "\"");
      }
      s3RestoreMib = static_cast<uint64_t>(mib);
    } else if (arg == "--results") {
      args.results = value();
    } else if (arg == "--list") {
      args.list = true;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else {
      usageError("unknown argument " + arg);
    }
  }
  if (args.config.quick) {
    args.config.duration = std::chrono::seconds(3);
    args.config.bootstrapBytes = uint64_t{256} << 20;
    args.config.s3RestoreBytes = uint64_t{256} << 20;
    args.config.catchupTransactions = 30'000;
    args.config.restoreWalTransactions = 200'000;
  }
  if (s3RestoreMib > 0) args.config.s3RestoreBytes = s3RestoreMib << 20;
  if (durationSeconds > 0) {
    args.config.duration = std::chrono::milliseconds(static_cast<int64_t>(durationSeconds * 1000));
  }
  return args;
}

double loadAverage1m() {
  std::ifstream in("/proc/loadavg");
  double load = 0;
  in >> load;
  return load;
}

std::string nowRfc3339() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  // A status endpoint that closes early must not kill the benchmark.
  ::signal(SIGPIPE, SIG_IGN);
  const Args args = parseArgs(argc, argv);
  const std::vector<Scenario> scenarios = allScenarios();
  if (args.list) {
    for (const auto& s : scenarios) std::printf("%-16s %s\n", s.name.c_str(), s.summary.c_str());
    return 0;
  }
  for (const auto& name : args.only) {
    if (std::none_of(scenarios.begin(), scenarios.end(),
                     [&](const Scenario& s) { return s.name == name; })) {
      usageError("no scenario named " + name + " (see --list)");
    }
  }
  if (::access(args.config.walstream.c_str(), X_OK) != 0) {
    usageError("cannot execute " + args.config.walstream);
  }
  std::ofstream results(args.results, std::ios::trunc);
  if (!results) usageError("cannot write " + args.results);

  const auto cpus = static_cast<int>(::sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("walstream_bench: %s, %d CPUs, load average %.2f, %s run, %.1f s phases\n",
              args.config.walstream.c_str(), cpus, loadAverage1m(),
              args.config.quick ? "quick" : "full",
              std::chrono::duration<double>(args.config.duration).count());
  std::vector<std::vector<ScenarioResult>> rounds;
  for (int round = 1; round <= args.runs; ++round) {
    std::vector<ScenarioResult> done;
    for (const auto& scenario : scenarios) {
      if (!args.only.empty() && !args.only.count(scenario.name)) continue;
      std::printf("\n-- running %s (round %d of %d): %s\n", scenario.name.c_str(), round, args.runs,
                  scenario.summary.c_str());
      std::fflush(stdout);
      RunContext context{nowRfc3339(),
                         args.config.quick,
                         std::chrono::duration<double>(args.config.duration).count(),
                         static_cast<double>(args.config.pollPause.count()),
                         cpus,
                         loadAverage1m(),
                         round};
      ScenarioResult result(scenario.name);
      const auto start = std::chrono::steady_clock::now();
      try {
        scenario.run(args.config, result);
      } catch (const std::exception& e) {
        result.fail(e.what());
      }
      const double elapsed =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      result.printTable(stdout);
      std::printf("  (%.1f s)\n", elapsed);
      results << result.json(context, elapsed) << "\n" << std::flush;
      done.push_back(std::move(result));
    }
    rounds.push_back(std::move(done));
  }
  const bool failed = !printMedianSummary(rounds, stdout);
  std::printf("\nresults: %s\n", args.results.c_str());
  return failed ? 1 : 0;
}
