// What a running child process uses, as Linux reports it under /proc/PID: for tests that bound
// the primary's memory, descriptors and temporary disk.
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace walstream::test {

// Current resident set size (VmRSS), in KiB; 0 when the process is gone.
uint64_t residentKiB(pid_t pid);

// Bytes of the regular files the process holds open that have no name any more (unlinked
// temporaries): disk that is in use but invisible to `du`.
uint64_t unlinkedOpenFileBytes(pid_t pid);

}  // namespace walstream::test
