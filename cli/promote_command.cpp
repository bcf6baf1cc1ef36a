// walstream promote LOCAL_DB: turns a stopped replica into a normal writable database that
// `walstream primary` then serves as a new generation (docs/promotion.md). The steps are
// client/promotion.h's; this command takes the instance lock (core/instance_lock.h) for them,
// refusing while a replica runs on LOCAL_DB, and prints what they did.
#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/flags.h"
#include "client/promotion.h"
#include "core/error.h"
#include "core/instance_lock.h"

namespace walstream::cli {

namespace {

constexpr const char* kPromoteUsage =
    "Usage: walstream promote [FLAGS] LOCAL_DB\n"
    "\n"
    "Turns LOCAL_DB, a stopped walstream replica, into a normal writable database: checks it\n"
    "against its saved position as a replica start does, records the promotion in\n"
    "LOCAL_DB-walstream/promoted (the position it was promoted at), checkpoints it and removes\n"
    "the replica's position, after which `walstream primary LOCAL_DB` serves it as a new\n"
    "generation and a replica refuses to follow into it. Everything the old primary committed\n"
    "after that position is not in LOCAL_DB. Refuses (exit code 1) a database that is not a\n"
    "replica, one a replica still runs on (a replica with --http promotes itself while it runs:\n"
    "POST /promote), and one that is not where its position left it.\n"
    "Run again after a crash, it finishes a promotion that was recorded. Exit code 0 when\n"
    "LOCAL_DB is promoted, 1 when refused or on a failure, 2 on a usage error.\n"
    "See docs/promotion.md for the fail-over procedure.\n"
    "\n"
    "Flags:\n";

// A running replica holds the lock for its whole run; it can promote itself (POST /promote).
std::string busyReason(const std::string& db, const InstanceLockBusy& e) {
  std::string reason = std::string("refusing to promote: ") + e.what();
  if (InstanceLock::describeHolder(db).starts_with("walstream replica")) {
    reason += ", or POST /promote to its status server (--http)";
  }
  return reason;
}

int promote(const std::string& db, std::chrono::milliseconds timeout) {
  client::checkPromotionCandidate(db);
  std::optional<InstanceLock> lock;
  try {
    lock = InstanceLock::acquire(db, "promote");
  } catch (const InstanceLockBusy& e) {
    throw Error(busyReason(db, e));
  }
  const client::PromotionOutcome outcome = client::promoteReplica(db, *lock, timeout);
  std::fputs(client::describePromotion(db, outcome).c_str(), stdout);
  return 0;
}

}  // namespace

int runPromote(const std::vector<std::string>& args) {
  Flags flags;
  flags.define("timeout", "DURATION", "30s",
               "how long the checkpoint waits for readers of LOCAL_DB to leave its WAL");
  std::string db;
  std::chrono::milliseconds timeout{};
  try {
    if (!flags.parse(args)) {
      std::printf("%s%s", kPromoteUsage, flags.help().c_str());
      return 0;
    }
    if (flags.positional().size() != 1) throw UsageError("want exactly one LOCAL_DB");
    db = flags.positional().front();
    timeout = flags.duration("timeout");
  } catch (const UsageError& e) {
    std::fprintf(stderr, "walstream promote: %s\n", e.what());
    return 2;
  }
  try {
    return promote(db, timeout);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "walstream promote: %s\n", e.what());
    return 1;
  }
}

}  // namespace walstream::cli
