#include "core/fd_limit.h"

#include <sys/resource.h>

#include <cstdio>

namespace walstream {

namespace {

// The kernel refuses a soft limit above fs.nr_open even when the hard limit is unlimited.
rlim_t kernelFileMax() {
  rlim_t max = 1024 * 1024;  // the kernel's default nr_open
  if (std::FILE* f = std::fopen("/proc/sys/fs/nr_open", "re")) {
    unsigned long long v = 0;
    if (std::fscanf(f, "%llu", &v) == 1 && v > 0) max = static_cast<rlim_t>(v);
    std::fclose(f);
  }
  return max;
}

}  // namespace

std::optional<unsigned long> raiseFileLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return std::nullopt;
  const rlim_t want = limit.rlim_max == RLIM_INFINITY ? kernelFileMax() : limit.rlim_max;
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < want) {
    rlimit raised = limit;
    raised.rlim_cur = want;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  }
  return static_cast<unsigned long>(limit.rlim_cur);
}

}  // namespace walstream
