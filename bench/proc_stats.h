// Resource use of a running process as Linux reports it under /proc/PID.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace walstream::bench {

// User + system CPU time the process has used so far (utime + stime of /proc/PID/stat), in
// seconds. Throws walstream::Error when the process is gone.
double cpuSeconds(pid_t pid);

// Peak resident set size (VmHWM of /proc/PID/status), in KiB.
uint64_t peakRssKiB(pid_t pid);

// Current resident set size (VmRSS), in KiB.
uint64_t rssKiB(pid_t pid);

}  // namespace walstream::bench
