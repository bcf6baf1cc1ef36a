// The promotion of a replica's LOCAL_DB into a normal writable database (docs/promotion.md §1),
// shared by `walstream promote LOCAL_DB` (a stopped replica, cli/promote_command.cpp) and a
// running replica's POST /promote (cli/replica_command.cpp), which promotes its own LOCAL_DB
// once it has stopped following its upstream and closed its applier.
//
// The steps, each restartable (docs/promotion.md §1.2 says what a crash after each one leaves):
//   1. refuse unless LOCAL_DB is a replica (a valid LOCAL_DB-walstream/position) or a promotion
//      already began (LOCAL_DB-walstream/promoted) (checkPromotionCandidate, before the lock),
//      and unless the caller holds LOCAL_DB's instance lock (core/instance_lock.h) from there to
//      the end: the CLI takes it, a running replica passes the one it has held all along (an OFD
//      lock: a second one in the same process would conflict with it);
//   2. check LOCAL_DB against the saved position as a replica start does
//      (ReplicaApplier::startProblem), stop it as a replica stops, and run PRAGMA quick_check;
//   3. write the promotion record (core/promotion_record.h) atomically and durably: from here
//      on LOCAL_DB is promoted, a replica refuses it, and a promotion run again goes on at step 4;
//   4. checkpoint (TRUNCATE) with a normal SQLite connection, then fsync LOCAL_DB; record
//      LOCAL_DB's file stamp in the record (not in a resumed run);
//   5. remove the replica's `position` and `db` files and flush their directory.
// Every refusal and failure throws walstream::Error with one line that says why.
#pragma once

#include <chrono>
#include <string>

#include "core/instance_lock.h"
#include "core/promotion_record.h"

namespace walstream::client {

// Step 1 before the lock, which creates LOCAL_DB-walstream/: a database that is not a replica
// is left exactly as it was. Throws Error when LOCAL_DB does not exist or is not a replica.
void checkPromotionCandidate(const std::string& db);

struct PromotionOutcome {
  PromotionRecord record;
  bool resumed = false;  // a recorded promotion was finished (steps 4 and 5 only)
};

// Steps 1 (after the lock) to 5. `held` is LOCAL_DB's instance lock, held by the caller for the
// whole call; `checkpointTimeout` bounds step 4's wait for readers to leave LOCAL_DB's WAL.
PromotionOutcome promoteReplica(const std::string& db, const InstanceLock& held,
                                std::chrono::milliseconds checkpointTimeout);

// What the promotion did and what may have been lost, several lines, as `walstream promote`
// prints it and POST /promote answers it.
std::string describePromotion(const std::string& db, const PromotionOutcome& outcome);

}  // namespace walstream::client
