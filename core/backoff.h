// Capped exponential backoff with full jitter, for retries (a replica's reconnects, a backup's
// writes): the n-th consecutive failure waits a random time in [base*2^(n-1)/2, base*2^(n-1)],
// capped at `cap`.
#pragma once

#include <chrono>
#include <random>

namespace walstream {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds base, std::chrono::milliseconds cap)
      : base_(base), cap_(cap), rng_(std::random_device{}()) {}

  std::chrono::milliseconds next() {
    auto ceiling = base_ * (1ll << std::min(failures_, 20));
    if (ceiling > cap_) ceiling = cap_;
    ++failures_;
    std::uniform_int_distribution<long long> d(ceiling.count() / 2, ceiling.count());
    return std::chrono::milliseconds(d(rng_));
  }
  void reset() { failures_ = 0; }
  int failures() const { return failures_; }

 private:
  std::chrono::milliseconds base_, cap_;
  int failures_ = 0;
  std::mt19937_64 rng_;
};

}  // namespace walstream
