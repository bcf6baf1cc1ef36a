#include "tests/support/poll_until.h"

#include <thread>

namespace walstream::test {

bool pollUntil(const std::function<bool()>& attempt, std::chrono::milliseconds timeout,
               std::chrono::milliseconds pause) {
  for (const auto until = std::chrono::steady_clock::now() + timeout;
       std::chrono::steady_clock::now() < until;) {
    if (attempt()) return true;
    std::this_thread::sleep_for(pause);
  }
  return false;
}

}  // namespace walstream::test
