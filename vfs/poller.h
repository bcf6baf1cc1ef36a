// Runs a poll on a thread of its own, from one interval after construction until destruction.
// The destructor wakes the thread and joins it: it returns once a poll in progress has finished.
//
// Polls that succeed run at a fixed rate, one per `interval` measured from the start of the last
// one, so that the time a poll takes does not push the next one back (a commit becomes visible
// at most one interval after it reaches the store, docs/vfs.md §5). A poll that fails is tried
// again sooner, after a capped exponential backoff from 50 ms up to `interval`: a failure caused
// by a store caught in the middle of a write (a listing that names an object still being
// uploaded) costs a moment, not an interval, while a store that stays down is asked no more
// often than once an interval.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace walstream::vfs {

class Poller {
 public:
  // `poll` returns false when it failed.
  Poller(std::chrono::milliseconds interval, std::function<bool()> poll);
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

 private:
  void run(std::stop_token stop, std::chrono::milliseconds interval,
           const std::function<bool()>& poll);

  std::mutex mu_;
  std::condition_variable_any wake_;
  std::jthread thread_;  // last: started once the rest is constructed
};

}  // namespace walstream::vfs
