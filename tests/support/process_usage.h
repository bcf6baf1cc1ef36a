// What a running child process uses, as Linux reports it under /proc/PID: for tests that bound
// the memory, descriptors and temporary disk of the primary or the replica.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace walstream::test {

// Current resident set size (VmRSS), in KiB; 0 when the process is gone.
uint64_t residentKiB(pid_t pid);

// The largest resident set size the process has had (VmHWM), in KiB; 0 when it is gone.
uint64_t peakResidentKiB(pid_t pid);

// Bytes the process has read so far through read(2), pread(2) and the like, page cache hits
// included (rchar of /proc/PID/io); 0 when unknown.
uint64_t bytesRead(pid_t pid);

// Bytes of the regular files the process holds open that have no name any more (unlinked
// temporaries): disk that is in use but invisible to `du`.
uint64_t unlinkedOpenFileBytes(pid_t pid);

}  // namespace walstream::test
