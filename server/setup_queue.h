// Admission of stream setups (planning a /stream: resume checks, opening a snapshot) to the
// worker pool.
//
// Invariants:
//  - At most `running` setups run at once, fewer than the pool's threads, so setups never take
//    every worker: heartbeats and the reads of streams already set up keep getting threads.
//  - At most `waiting` setups wait; past that a request is refused and its client told to retry
//    (503 with Retry-After), so a burst costs a bounded queue, not a backlog.
//  - A waiting setup whose client has gone never runs: it is skipped when its turn comes, and
//    the waiting ones of gone clients are dropped before a new request is refused for room.
// Thread-safe. Start callbacks run on the thread that submits or that releases a slot, outside
// the lock; they must only post work and return.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <utility>

namespace walstream::server {

class SetupQueue {
 public:
  // A running setup's place. Releasing it (or destroying it) lets the next waiting setup start.
  class Slot {
   public:
    Slot() = default;
    explicit Slot(SetupQueue* queue) : queue_(queue) {}
    Slot(Slot&& other) noexcept : queue_(std::exchange(other.queue_, nullptr)) {}
    Slot& operator=(Slot&& other) noexcept {
      if (this != &other) {
        release();
        queue_ = std::exchange(other.queue_, nullptr);
      }
      return *this;
    }
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() { release(); }
    void release() {
      if (auto* q = std::exchange(queue_, nullptr)) q->finished();
    }

   private:
    SetupQueue* queue_ = nullptr;
  };

  using Wanted = std::function<bool()>;     // false once the client has gone
  using Start = std::function<void(Slot)>;  // begins the setup, holding the slot until it ends

  SetupQueue(size_t running, size_t waiting) : maxRunning_(running), maxWaiting_(waiting) {}

  // Starts the setup now or queues it; false when it is refused (the queue is full of setups
  // of clients still there, or the queue is closed).
  bool submit(Wanted wanted, Start start);

  // Refuses every later setup and drops the waiting ones (server shutdown). Slots released
  // afterwards start nothing.
  void close();

  size_t running() const;
  size_t waiting() const;

 private:
  struct Entry {
    Wanted wanted;
    Start start;
  };
  void finished();

  const size_t maxRunning_;
  const size_t maxWaiting_;
  mutable std::mutex mu_;
  size_t running_ = 0;         // under mu_
  std::deque<Entry> waiting_;  // under mu_
  bool closed_ = false;        // under mu_
};

}  // namespace walstream::server
