// --min-checkpoint-pages and --max-checkpoint-pages, read the same way by primary and replica.
#pragma once

#include <cstdint>

#include "cli/flags.h"

namespace walstream::cli {

struct CheckpointPages {
  uint32_t min = 0;
  uint32_t max = 0;
};

// Each from 1 to 2^32 - 1, and max not below min (a WAL past max pages is one that min lets
// grow). Throws UsageError naming the flag and what is wanted.
CheckpointPages checkpointPages(const Flags& flags);

}  // namespace walstream::cli
