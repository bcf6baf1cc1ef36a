// How much longer than usual the tests' waits for the system under test may take. Sanitizer
// builds run walstream many times slower (ThreadSanitizer: 5-15x), so `make tsan` sets
// WALSTREAM_TEST_TIME_SCALE (a positive integer, default 1) and the bounded waits of the test
// support scale their limits by it. Limits that a test asserts as a property (a latency bound,
// how soon a stalled client is dropped) are checked as written at scale 1, in `make test` and
// CI; a scaled run is there to find races, not to measure speed, so they widen with it
// (scaledBound).
#pragma once

#include <chrono>

namespace walstream::test {

int timeScale();

inline std::chrono::milliseconds scaled(std::chrono::milliseconds limit) {
  return limit * timeScale();
}

// A bound in seconds that a test asserts as a property, widened under a scaled run.
inline double scaledBound(double seconds) {
  return seconds * timeScale();
}

}  // namespace walstream::test
