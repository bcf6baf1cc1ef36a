// The process's open-file limit. Servers hold a descriptor per connection, and a limit reached
// by connections would also fail the files capture opens, so the soft limit is raised to the
// hard one at start.
#pragma once

#include <optional>

namespace walstream {

// Raises RLIMIT_NOFILE's soft limit to its hard limit; returns the soft limit in force
// afterwards (nullopt when it cannot be read).
std::optional<unsigned long> raiseFileLimit();

}  // namespace walstream
