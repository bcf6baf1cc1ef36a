#include "client/promotion.h"

#include <fcntl.h>
#include <sqlite3.h>

#include <optional>

#include "client/followed_db.h"
#include "client/replica_applier.h"
#include "client/replica_position.h"
#include "core/error.h"
#include "core/file_stamp.h"
#include "core/file_system.h"
#include "core/file_util.h"
#include "core/sqlite_conn.h"

namespace walstream::client {

namespace {

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
  ApplierOptions options;
  options.logStartProblem = false;  // it is the refusal's reason, said once
  PromotionRecord r;
  {
    const ReplicaApplier applier(db, options);
    if (!applier.position()) {
      throw Error("refusing to promote: " +
                  (applier.startProblem().empty() ? positionPathOf(db) + " is unreadable"
                                                  : applier.startProblem()) +
                  "; the state is not one the primary had");
    }
    const ReplicaPosition& p = *applier.position();
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
  r.db = loadFollowedDb(followedDbPath(db)).value_or("");
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
  fs.unlink(followedDbPath(db));
  fs.fsyncDir(db + "-walstream");
}

}  // namespace

void checkPromotionCandidate(const std::string& db) {
  if (!pathExists(db)) throw Error(db + " does not exist");
  if (!pathExists(promotedRecordPath(db)) && !pathExists(positionPathOf(db))) {
    throw Error("refusing to promote: " + db + " is not a walstream replica (no " +
                positionPathOf(db) + ")");
  }
}

PromotionOutcome promoteReplica(const std::string& db, const InstanceLock& held,
                                std::chrono::milliseconds checkpointTimeout) {
  if (held.dbPath() != db) {
    throw Error("cannot promote " + db + " under the instance lock of " + held.dbPath());
  }
  const std::string recordPath = promotedRecordPath(db);
  std::optional<PromotionRecord> record = loadPromotionRecord(recordPath);
  const bool resumed = record.has_value();
  if (!record) {
    if (!loadReplicaPosition(positionPathOf(db))) {
      throw Error("refusing to promote: " + db + " is not a walstream replica (" +
                  positionPathOf(db) + " is not a replica's position)");
    }
    record = checkedReplicaPosition(db);
    savePromotionRecord(realFileSystem(), recordPath, *record);
  }
  checkpointPromoted(db, checkpointTimeout);
  if (!resumed) {
    // LOCAL_DB's file is now exactly the state at the promoted position. Not after a resumed
    // run: something may have written LOCAL_DB after the crash (docs/promotion.md §3).
    record->dbFile = stampFile(db);
    savePromotionRecord(realFileSystem(), recordPath, *record);
  }
  removeReplicaFiles(db);
  return {*record, resumed};
}

std::string describePromotion(const std::string& db, const PromotionOutcome& outcome) {
  const PromotionRecord& r = outcome.record;
  const std::string at = r.position.str();
  return std::string(outcome.resumed ? "finished promoting " : "promoted ") + db + " at " + at +
         " (old primary's database " + (r.db.empty() ? "not recorded" : r.db) + ")\n" + "not in " +
         db + ": every transaction the old primary committed after " + at + "\n" +
         "next: walstream primary " + db + " (it starts a new generation continuing " + at + ")\n";
}

}  // namespace walstream::client
