// How much longer than usual the tests' waits for the system under test may take. Sanitizer
// builds run walstream many times slower (ThreadSanitizer: 5-15x), so `make tsan` sets
// WALSTREAM_TEST_TIME_SCALE (a positive integer, default 1) and the bounded waits of the test
// support scale their limits by it. Limits that a test asserts as a property (a stall timeout,
// a latency bound) are not scaled.
#pragma once

#include <chrono>

namespace walstream::test {

int timeScale();

inline std::chrono::milliseconds scaled(std::chrono::milliseconds limit) {
  return limit * timeScale();
}

}  // namespace walstream::test
