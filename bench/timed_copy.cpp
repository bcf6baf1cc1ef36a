#include "bench/timed_copy.h"

#include <fcntl.h>

#include <chrono>

#include "core/error.h"
#include "core/file_util.h"
#include "tests/support/process.h"

namespace walstream::bench {

CopyTimes timedCopy(const std::string& from, const std::string& to, const std::string& logPrefix) {
  using Clock = std::chrono::steady_clock;
  const auto seconds = [](Clock::time_point since) {
    return std::chrono::duration<double>(Clock::now() - since).count();
  };
  CopyTimes out;
  const auto start = Clock::now();
  const auto cp = test::runToCompletion({"/bin/cp", from, to}, logPrefix, std::chrono::minutes(10));
  out.cpSeconds = seconds(start);
  if (cp.exitCode != 0) throw Error("cp " + from + " " + to + " failed: " + cp.err);
  {
    UniqueFd fd = openFile(to, O_RDONLY);
    fsyncFd(fd.get(), to);
  }
  out.cpFsyncSeconds = seconds(start);
  return out;
}

}  // namespace walstream::bench
