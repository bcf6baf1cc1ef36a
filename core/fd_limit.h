// The process's open-file limit. systemd and most shells start services with a soft
// RLIMIT_NOFILE of 1024 and a much higher hard limit; a server holds a descriptor per
// connection, and a limit reached by connections would also fail the files capture opens, so
// the soft limit is raised to the hard one at start.
#pragma once

#include <optional>

namespace walstream {

// Raises RLIMIT_NOFILE's soft limit to its hard limit (to the kernel's fs.nr_open when the hard
// limit is unlimited). Returns the soft limit in force afterwards, which is the old one when it
// could not be raised; nullopt when it cannot be read.
std::optional<unsigned long> raiseFileLimit();

}  // namespace walstream
