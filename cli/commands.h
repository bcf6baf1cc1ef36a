// Subcommands of the walstream binary. Each takes its arguments (after the subcommand name) and
// returns the process exit code: 0 success, 1 runtime failure, 2 usage error.
#pragma once

#include <string>
#include <vector>

namespace walstream::cli {

int runPrimary(const std::vector<std::string>& args);
int runReplica(const std::vector<std::string>& args);
int runPromote(const std::vector<std::string>& args);
int runInspect(const std::vector<std::string>& args);
int runRestore(const std::vector<std::string>& args);
int runVerify(const std::vector<std::string>& args);
// `what`: "generations", "snapshots" or "wal".
int runBackupListing(const std::string& what, const std::vector<std::string>& args);

}  // namespace walstream::cli
