// walstream promote LOCAL_DB: turns a stopped replica into a normal writable database that
// `walstream primary` then serves as a new generation (docs/promotion.md).
//
// The steps, each restartable (docs/promotion.md §1 says what a crash after each one leaves):
//   1. refuse unless LOCAL_DB is a replica (a valid LOCAL_DB-walstream/position) or a promotion
//      already began (LOCAL_DB-walstream/promoted), and unless no walstream process works on
//      it (the instance lock, core/instance_lock.h, held from here to the end);
//   2. check LOCAL_DB against the saved position as a replica start does
//      (ReplicaApplier::startProblem), stop it as a replica stops, and run PRAGMA quick_check;
//   3. write the promotion record (core/promotion_record.h) atomically and durably: from here
//      on LOCAL_DB is promoted, a replica refuses it, and promote run again goes on at step 4;
//   4. checkpoint (TRUNCATE) with a normal SQLite connection, then fsync LOCAL_DB; record
//      LOCAL_DB's file stamp in the record (not in a resumed run);
//   5. remove the replica's `position` and `db` files and flush their directory.
#include <fcntl.h>
#include <sqlite3.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "cli/commands.h"
#include "cli/flags.h"
#include "client/followed_db.h"
#include "client/replica_applier.h"
#include "client/replica_position.h"
#include "core/error.h"
#include "core/file_stamp.h"
#include "core/file_system.h"
#include "core/file_util.h"
#include "core/instance_lock.h"
#include "core/pos.h"
#include "core/promotion_record.h"
#include "core/sqlite_conn.h"

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
    "replica, one a replica still runs on, and one that is not where its position left it.\n"
    "Run again after a crash, it finishes a promotion that was recorded. Exit code 0 when\n"
    "LOCAL_DB is promoted, 1 when refused or on a failure, 2 on a usage error.\n"
    "See docs/promotion.md for the fail-over procedure.\n"
    "\n"
    "Flags:\n";

std::string positionPathOf(const std::string& db) {
  return db + "-walstream/position";
}

int64_t unixMillisNow() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Step 2: the replica's position, if LOCAL_DB is where it left it; LOCAL_DB is left as a
// replica's clean stop leaves it.
PromotionRecord checkedReplicaPosition(const std::string& db) {
  client::ApplierOptions options;
  options.logStartProblem = false;  // it is the refusal's reason, printed once
  PromotionRecord r;
  {
    const client::ReplicaApplier applier(db, options);
    if (!applier.position()) {
      throw Error("refusing to promote: " +
                  (applier.startProblem().empty() ? positionPathOf(db) + " is unreadable"
                                                  : applier.startProblem()) +
                  "; the state is not one the primary had");
    }
    const client::ReplicaPosition& p = *applier.position();
    r.position = p.pos;
    if (p.chainKnown) {
      r.checksum = p.chain.checksum;
      r.salt1 = p.chain.salt1;
      r.salt2 = p.chain.salt2;
    }
  }  // its descriptors closed before any other SQLite connection opens (docs/sqlite-wal.md §4.5)
  SqliteConnection reader(db, SQLITE_OPEN_READONLY);
  const std::string check = reader.queryText("PRAGMA quick_check");
  if (check != "ok") throw Error("refusing to promote: " + db + ": PRAGMA quick_check: " + check);
  r.db = client::loadFollowedDb(client::followedDbPath(db)).value_or("");
  r.promotedAtMs = unixMillisNow();
  return r;
}

// Step 4: every frame into LOCAL_DB's file and an empty WAL, durably.
void checkpointPromoted(const std::string& db, std::chrono::milliseconds timeout) {
  {
    SqliteConnection conn(db);
    conn.setBusyTimeout(static_cast<int>(timeout.count()));
    const CheckpointResult r = conn.checkpoint(SQLITE_CHECKPOINT_TRUNCATE);
    if (r.busy) {
      throw Error(db + ": the TRUNCATE checkpoint stayed busy for " +
                  std::to_string(timeout.count()) +
                  " ms (readers in its WAL); the promotion is recorded: run promote again");
    }
  }
  UniqueFd file = openFile(db, O_RDONLY);
  fsyncFd(file.get(), db);
  fsyncDir(dirName(db));
}

// Step 5.
void removeReplicaFiles(const std::string& db) {
  FileSystem& fs = realFileSystem();
  fs.unlink(positionPathOf(db));
  fs.unlink(client::followedDbPath(db));
  fs.fsyncDir(db + "-walstream");
}

void printPromoted(const std::string& db, const PromotionRecord& r, bool resumed) {
  std::printf("%s %s at %s (old primary's database %s)\n",
              resumed ? "finished promoting" : "promoted", db.c_str(), r.position.str().c_str(),
              r.db.empty() ? "not recorded" : r.db.c_str());
  std::printf(
      "not in %s: every transaction the old primary committed after %s\n"
      "next: walstream primary %s (it starts a new generation continuing %s)\n",
      db.c_str(), r.position.str().c_str(), db.c_str(), r.position.str().c_str());
}

int promote(const std::string& db, std::chrono::milliseconds timeout) {
  const std::string recordPath = promotedRecordPath(db);
  if (!pathExists(db)) throw Error(db + " does not exist");
  // Before the lock, which creates LOCAL_DB-walstream/: a database that is not a replica is
  // left exactly as it was.
  if (!pathExists(recordPath) && !pathExists(positionPathOf(db))) {
    throw Error("refusing to promote: " + db + " is not a walstream replica (no " +
                positionPathOf(db) + ")");
  }
  std::optional<InstanceLock> lock;
  try {
    lock = InstanceLock::acquire(db, "promote");
  } catch (const InstanceLockBusy& e) {
    throw Error(std::string("refusing to promote: ") + e.what());
  }
  std::optional<PromotionRecord> record = loadPromotionRecord(recordPath);
  const bool resumed = record.has_value();
  if (!record) {
    if (!client::loadReplicaPosition(positionPathOf(db))) {
      throw Error("refusing to promote: " + db + " is not a walstream replica (" +
                  positionPathOf(db) + " is not a replica's position)");
    }
    record = checkedReplicaPosition(db);
    savePromotionRecord(realFileSystem(), recordPath, *record);
  }
  checkpointPromoted(db, timeout);
  if (!resumed) {
    // LOCAL_DB's file is now exactly the state at the promoted position. Not after a resumed
    // run: something may have written LOCAL_DB after the crash (docs/promotion.md §3).
    record->dbFile = stampFile(db);
    savePromotionRecord(realFileSystem(), recordPath, *record);
  }
  removeReplicaFiles(db);
  printPromoted(db, *record, resumed);
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
