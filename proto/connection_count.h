// How many connections an HTTP server holds open, against its --max-connections: the primary's
// (whose capture needs descriptors for its files, SQLite's and snapshots') and the replica's
// --http server (whose LOCAL_DB, stream and received snapshots need them). Each connection holds
// a descriptor; counting them lets the listener refuse connections beyond the cap, so that
// connections can never use up the descriptors the rest of the process needs. No sockets here:
// the listeners close what they refuse.
#pragma once

#include <atomic>
#include <cstddef>
#include <utility>

namespace walstream::proto {

class ConnectionCount {
 public:
  // One counted connection; moves with the socket (the primary's HttpSession, then
  // StreamSession; the replica's status session).
  class Slot {
   public:
    Slot() = default;
    explicit Slot(ConnectionCount* count) : count_(count) {}
    Slot(Slot&& other) noexcept : count_(std::exchange(other.count_, nullptr)) {}
    Slot& operator=(Slot&& other) noexcept {
      if (this != &other) {
        reset();
        count_ = std::exchange(other.count_, nullptr);
      }
      return *this;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { reset(); }
    void reset() {
      if (auto* c = std::exchange(count_, nullptr)) c->open_.fetch_sub(1);
    }

   private:
    ConnectionCount* count_ = nullptr;
  };

  explicit ConnectionCount(size_t max) : max_(max) {}

  // A slot for a new connection, or an empty one (false) when `max` are open.
  bool tryTake(Slot& slot) {
    size_t n = open_.load();
    do {
      if (n >= max_) return false;
    } while (!open_.compare_exchange_weak(n, n + 1));
    slot = Slot(this);
    return true;
  }

  size_t open() const { return open_.load(); }
  size_t max() const { return max_; }

 private:
  const size_t max_;
  std::atomic<size_t> open_{0};
};

}  // namespace walstream::proto
