#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "backup/restorer.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/store_arg.h"
#include "cli/time_text.h"
#include "core/error.h"
#include "core/pos.h"
#include "storage/object_store.h"

namespace walstream::cli {

namespace {

constexpr const char* kRestoreUsage =
    "Usage: walstream restore [FLAGS] -o OUT URL\n"
    "\n"
    "Rebuilds a database from the backup at URL (file:///ABSOLUTE/PATH) into OUT: the newest\n"
    "snapshot at or before the target, then the WAL captured after it, up to the target. Every\n"
    "block, object and WAL frame is checked before it is written; OUT appears only once it is\n"
    "whole, durable and passes PRAGMA integrity_check, and is never half-written. Prints the\n"
    "position restored to. Exit code 0 on success, 1 on any failure, 2 on a usage error.\n"
    "\n"
    "The target is at most one of --timestamp (the state as captured then, by the primary's\n"
    "clock), --pos and --generation; without one, the latest state of the newest generation.\n"
    "\n"
    "Flags:\n";

struct RestoreArgs {
  StoreArg store;
  std::string out;
  backup::RestoreOptions options;
};

RestoreArgs parseRestoreArgs(const Flags& flags) {
  RestoreArgs a;
  if (flags.positional().size() != 1) throw UsageError("want exactly one URL");
  a.store = parseStoreArg(flags.positional().front(), flags);
  a.out = flags.str("o");
  if (a.out.empty()) throw UsageError("-o OUT is required");
  int targets = 0;
  if (flags.given("timestamp")) {
    ++targets;
    try {
      a.options.target.timestampMs = parseRfc3339Ms(flags.str("timestamp"));
    } catch (const std::invalid_argument&) {
      throw UsageError("invalid value \"" + flags.str("timestamp") +
                       "\" for --timestamp: want RFC 3339, e.g. 2026-12-07T07:50:00Z");
    }
  }
  if (flags.given("pos")) {
    ++targets;
    try {
      a.options.target.pos = parsePos(flags.str("pos"));
    } catch (const std::exception& e) {
      throw UsageError("invalid value for --pos: " + std::string(e.what()));
    }
    if (a.options.target.pos->empty()) throw UsageError("--pos wants a position, not an empty one");
  }
  if (flags.given("generation")) {
    ++targets;
    try {
      a.options.target.generation = parseHex16(flags.str("generation"), "generation");
    } catch (const std::exception& e) {
      throw UsageError("invalid value for --generation: " + std::string(e.what()));
    }
  }
  if (targets > 1) throw UsageError("give at most one of --timestamp, --pos, --generation");
  a.options.parallel = flags.u32("parallel", 1);
  const std::string ifExists = flags.str("if-exists");
  if (ifExists != "fail" && ifExists != "replace") {
    throw UsageError("invalid value \"" + ifExists + "\" for --if-exists: want fail or replace");
  }
  a.options.replaceExisting = ifExists == "replace";
  return a;
}

// "12.5 MiB"
std::string mib(uint64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f MiB", static_cast<double>(bytes) / (1 << 20));
  return text;
}

// On a terminal: bytes, rate and time left, rewritten in place on standard error.
std::function<void(const backup::RestoreProgress&)> terminalProgress() {
  if (!::isatty(STDERR_FILENO)) return {};
  const auto start = std::chrono::steady_clock::now();
  return [start](const backup::RestoreProgress& p) {
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double rate = seconds > 0 ? static_cast<double>(p.bytesRead) / seconds : 0;
    const double left = rate > 0 ? static_cast<double>(p.bytesTotal - p.bytesRead) / rate : 0;
    std::fprintf(stderr, "\rrestoring: %s of %s, %s/s, %.0f s left   ", mib(p.bytesRead).c_str(),
                 mib(p.bytesTotal).c_str(), mib(static_cast<uint64_t>(rate)).c_str(), left);
    if (p.bytesRead >= p.bytesTotal) std::fputc('\n', stderr);
  };
}

}  // namespace

int runRestore(const std::vector<std::string>& args) {
  Flags flags;
  flags.define("o", "OUT", "", "the database file to write (required)");
  flags.define("timestamp", "RFC3339", "", "restore the state as captured at this time");
  flags.define("pos", "GEN/INDEX:OFFSET", "", "restore the last commit at or before this position");
  flags.define("generation", "GEN", "", "restore the latest state of this generation");
  flags.define("parallel", "N", "8", "objects downloaded at once");
  flags.define("if-exists", "fail|replace", "fail",
               "what to do when OUT exists; replace also removes OUT-wal and OUT-shm");
  defineStoreFlags(flags);
  RestoreArgs parsed;
  try {
    if (!flags.parse(args)) {
      std::fputs(kRestoreUsage, stdout);
      std::fputs(flags.help().c_str(), stdout);
      return 0;
    }
    parsed = parseRestoreArgs(flags);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "walstream restore: %s\n", e.what());
    return 2;
  }
  parsed.options.onProgress = terminalProgress();
  try {
    const auto store = parsed.store.open();
    const backup::RestoreResult r = backup::restoreDatabase(*store, parsed.out, parsed.options);
    std::printf(
        "restored %s to %s (captured %s): snapshot %s, %llu transactions after it, "
        "%llu pages of %u bytes\n",
        parsed.out.c_str(), r.position.str().c_str(), formatRfc3339Ms(r.capturedAtMs).c_str(),
        r.snapshotKey.c_str(), static_cast<unsigned long long>(r.transactions),
        static_cast<unsigned long long>(r.pageCount), r.pageSize);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "walstream restore: %s\n", e.what());
    return 1;
  }
}

}  // namespace walstream::cli
