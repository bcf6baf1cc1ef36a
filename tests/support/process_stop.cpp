#include "tests/support/process_stop.h"

#include <doctest/doctest.h>
#include <signal.h>

#include <chrono>

namespace walstream::test {

void stopCleanly(Process& process) {
  process.signal(SIGTERM);
  const auto code = process.wait(std::chrono::seconds(20));
  REQUIRE_MESSAGE(code.has_value(), "the process did not stop within 20 s of SIGTERM");
  CHECK(*code == 0);
}

}  // namespace walstream::test
