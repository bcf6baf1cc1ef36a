// The bytes that all streams together may hold in buffers of their own: snapshot chunks and
// segments read from disk for one client (live segments are capture's buffers, shared by every
// client, and bounded per client by StreamLimits instead).
//
// Invariant: what is granted beyond the limit is at most one floor per stream, so memory stays
// bounded by limit + streams x floor however many clients stop reading: a stream always gets
// its floor (it makes progress, slowly), and more only while the budget has room. Thread-safe.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <utility>

namespace walstream::server {

class ByteBudget {
 public:
  // Bytes taken from the budget, returned when the grant is reset or destroyed.
  class Grant {
   public:
    Grant() = default;
    Grant(ByteBudget* budget, uint64_t bytes) : budget_(budget), bytes_(bytes) {}
    Grant(Grant&& other) noexcept
        : budget_(std::exchange(other.budget_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
    Grant& operator=(Grant&& other) noexcept {
      if (this != &other) {
        reset();
        budget_ = std::exchange(other.budget_, nullptr);
        bytes_ = std::exchange(other.bytes_, 0);
      }
      return *this;
    }
    Grant(const Grant&) = delete;
    Grant& operator=(const Grant&) = delete;
    ~Grant() { reset(); }

    uint64_t bytes() const { return bytes_; }
    void reset() {
      if (auto* b = std::exchange(budget_, nullptr)) b->used_.fetch_sub(bytes_);
      bytes_ = 0;
    }

   private:
    ByteBudget* budget_ = nullptr;
    uint64_t bytes_ = 0;
  };

  explicit ByteBudget(uint64_t limit) : limit_(limit) {}

  // `want` bytes when the budget has room for them, else what is left of it, but never less
  // than `floor` (which may be 0: then possibly nothing).
  Grant take(uint64_t want, uint64_t floor) {
    uint64_t used = used_.load();
    uint64_t bytes = 0;
    do {
      const uint64_t room = used < limit_ ? limit_ - used : 0;
      bytes = std::max(std::min(want, room), std::min(floor, want));
    } while (!used_.compare_exchange_weak(used, used + bytes));
    return Grant(bytes > 0 ? this : nullptr, bytes);
  }

  uint64_t used() const { return used_.load(); }

 private:
  const uint64_t limit_;
  std::atomic<uint64_t> used_{0};
};

}  // namespace walstream::server
