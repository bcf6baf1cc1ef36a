#include "cli/checkpoint_pages.h"

#include <string>

namespace walstream::cli {

CheckpointPages checkpointPages(const Flags& flags) {
  CheckpointPages pages;
  pages.min = flags.u32("min-checkpoint-pages", 1);
  pages.max = flags.u32("max-checkpoint-pages", 1);
  if (pages.max < pages.min) {
    throw flags.error("max-checkpoint-pages", "--max-checkpoint-pages (" +
                                                  std::to_string(pages.max) +
                                                  ") must not be below --min-checkpoint-pages (" +
                                                  std::to_string(pages.min) + ")");
  }
  return pages;
}

}  // namespace walstream::cli
