// The poller's schedule: a failed poll is tried again well before the interval; successful ones
// wait the interval; destruction stops it at once.
#include <doctest/doctest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "tests/support/time_scale.h"
#include "vfs/poller.h"

using namespace walstream::vfs;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

// Records when each poll ran; answers false for the first `failures` of them.
class PollLog {
 public:
  explicit PollLog(int failures) : failures_(failures) {}

  bool poll() {
    std::lock_guard lock(mu_);
    times_.push_back(Clock::now());
    changed_.notify_all();
    return static_cast<int>(times_.size()) > failures_;
  }
  // The times of the first `n` polls, once they ran; fewer if `within` passes first.
  std::vector<Clock::time_point> waitFor(size_t n, Clock::duration within) {
    std::unique_lock lock(mu_);
    changed_.wait_for(lock, within, [&] { return times_.size() >= n; });
    return times_;
  }

 private:
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<Clock::time_point> times_;
  const int failures_;
};

}  // namespace

TEST_CASE("a failed poll is tried again long before the interval, a successful one is not") {
  PollLog log(2);
  const auto interval = std::chrono::duration_cast<std::chrono::milliseconds>(
      walstream::test::scaled(std::chrono::milliseconds(3s)));
  const auto start = Clock::now();
  Poller poller(interval, [&] { return log.poll(); });
  // Poll 1 fails at one interval; 2 (fails) and 3 (succeeds) follow within backoffs of 50 and
  // 100 ms at most; poll 4 comes a whole interval after poll 3 began.
  const std::vector<Clock::time_point> times = log.waitFor(4, 4 * interval);
  REQUIRE(times.size() == 4);
  CHECK(times[0] - start >= interval);
  CHECK(times[2] - times[0] < interval / 2);
  CHECK(times[3] - times[2] >= interval - 5ms);
}

TEST_CASE("destroying a poller returns at once, not after its interval") {
  PollLog log(0);
  const auto start = Clock::now();
  {
    Poller poller(std::chrono::milliseconds(60s), [&] { return log.poll(); });
  }
  CHECK(Clock::now() - start < 10s);
  CHECK(log.waitFor(1, 0s).empty());
}
