#include "vfs/poller.h"

#include <algorithm>

#include "core/backoff.h"

namespace walstream::vfs {

namespace {

constexpr std::chrono::milliseconds kFirstRetry{50};

}  // namespace

Poller::Poller(std::chrono::milliseconds interval, std::function<bool()> poll)
    : thread_([this, interval, poll = std::move(poll)](std::stop_token stop) {
        run(stop, interval, poll);
      }) {}

Poller::~Poller() {
  thread_.request_stop();  // wakes wait_until through the stop token
  thread_.join();
}

void Poller::run(std::stop_token stop, std::chrono::milliseconds interval,
                 const std::function<bool()>& poll) {
  Backoff retry(std::min(kFirstRetry, interval), interval);
  auto next = std::chrono::steady_clock::now() + interval;
  while (true) {
    {
      std::unique_lock lock(mu_);
      // Returns early only when stopped: the predicate never holds.
      wake_.wait_until(lock, stop, next, [] { return false; });
      if (stop.stop_requested()) return;
    }
    const auto started = std::chrono::steady_clock::now();
    if (poll()) {
      retry.reset();
      // Fixed rate; a poll that took longer than an interval is followed at once, not twice.
      next = std::max(next + interval, started);
    } else {
      next = started + retry.next();
    }
  }
}

}  // namespace walstream::vfs
