// One `walstream restore` run as a child process, timed from spawning it to its exit and
// watched for memory: its peak RSS is VmHWM of /proc/PID/status, read every 2 ms while it runs
// (the high-water mark, so a peak between two reads is not missed; a rise in its last 2 ms
// would be). wait4's ru_maxrss cannot serve: a spawned child's maxrss starts at the RSS of the
// process that spawned it, here the benchmark's own.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace walstream::bench {

struct RestoreRun {
  double seconds = 0;         // spawn to exit
  uint64_t peakRssKiB = 0;    // VmHWM
  uint64_t transactions = 0;  // "N transactions after it": WAL commits applied after the snapshot
  std::string summary;        // the line restore printed
};

// Runs `BINARY restore ARGS...` (ARGS ends with -o OUT URL). Throws walstream::Error naming its
// output when it does not exit 0 within `timeout` (it is killed then).
RestoreRun runRestore(const std::string& binary, const std::vector<std::string>& args,
                      const std::string& logPrefix, std::chrono::milliseconds timeout);

}  // namespace walstream::bench
