// What the promotion tests share (tests/integration/promote_test.cpp, promote_running_test.cpp):
// a stopped replica of a bank database, the stock shell writing behind walstream's back, and
// the checks of a promoted database's content and lineage (docs/promotion.md).
#pragma once

#include <string>
#include <vector>

#include "tests/support/process.h"

namespace walstream::test {

class TempDir;

// `walstream promote DB`, its output under dir/logName.
RunResult promote(const std::string& db, const TempDir& dir, const std::string& logName);

// The bank's counter, log length, balances and their sum: equal digests, equal content.
std::string bankDigest(const std::string& db);
// PRAGMA integrity_check on a read-only connection ("ok").
std::string integrity(const std::string& db);

// A stopped replica of `app` (which has `transfers` transfers, all applied), primary stopped.
void makeStoppedReplica(const std::string& app, const std::string& rep, const TempDir& dir,
                        int transfers);

// One more transfer, by the stock sqlite3 shell: the bank invariant holds after it.
void transferWithShell(const std::string& db, const TempDir& dir);

// The generations/<G>/lineage files of a primary's shadow WAL for `db`.
std::vector<std::string> lineageFiles(const std::string& db);

}  // namespace walstream::test
