#include "server/setup_queue.h"

namespace walstream::server {

// Entries dropped under the lock are destroyed after it is released: their callbacks hold
// sessions, whose destruction must not run under it.

bool SetupQueue::submit(Wanted wanted, Start start) {
  std::deque<Entry> dropped;
  {
    std::lock_guard lock(mu_);
    if (closed_) return false;
    if (running_ >= maxRunning_) {
      if (waiting_.size() >= maxWaiting_) {
        std::deque<Entry> kept;
        for (Entry& e : waiting_) (e.wanted() ? kept : dropped).push_back(std::move(e));
        waiting_.swap(kept);
        if (waiting_.size() >= maxWaiting_) return false;
      }
      waiting_.push_back({std::move(wanted), std::move(start)});
      return true;
    }
    ++running_;
  }
  start(Slot(this));
  return true;
}

void SetupQueue::finished() {
  Entry next;
  std::deque<Entry> dropped;
  {
    std::lock_guard lock(mu_);
    --running_;
    // Setups of clients that have gone are dropped here without running.
    while (!closed_ && !waiting_.empty()) {
      Entry e = std::move(waiting_.front());
      waiting_.pop_front();
      if (e.wanted()) {
        next = std::move(e);
        ++running_;
        break;
      }
      dropped.push_back(std::move(e));
    }
  }
  if (next.start) next.start(Slot(this));
}

void SetupQueue::close() {
  std::deque<Entry> dropped;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    dropped.swap(waiting_);
  }
  // Destroyed outside the lock: the callbacks hold sessions.
}

size_t SetupQueue::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

size_t SetupQueue::waiting() const {
  std::lock_guard lock(mu_);
  return waiting_.size();
}

}  // namespace walstream::server
