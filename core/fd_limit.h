// The process's open-file limit. systemd and most shells start services with a soft
// RLIMIT_NOFILE of 1024 and a much higher hard limit; a server that holds a descriptor per
// connection (and SQLite's, and segment files) needs the hard one.
#pragma once

#include <cstdint>

namespace walstream {

// Raises the soft RLIMIT_NOFILE to the hard limit (to the kernel's fs.nr_open when the hard
// limit is unlimited). Returns the soft limit in force afterwards, or -1 (errno set) when it
// could not be read or changed; the limit is then as it was.
int64_t raiseFileLimit();

}  // namespace walstream
