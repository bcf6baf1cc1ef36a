#include <cstdio>

#include "cli/commands.h"

namespace walstream::cli {

int runPrimary(const std::vector<std::string>&) {
  std::fputs("walstream primary: not available in this build yet\n", stderr);
  return 1;
}

}  // namespace walstream::cli
