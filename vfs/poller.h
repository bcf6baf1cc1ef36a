// Runs a function every `interval` on a thread of its own, from one interval after construction
// until destruction. The destructor wakes the thread and joins it: it returns once a poll in
// progress has finished.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace walstream::vfs {

class Poller {
 public:
  Poller(std::chrono::milliseconds interval, std::function<void()> poll);
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable_any wake_;
  std::jthread thread_;  // last: started once the rest is constructed
};

}  // namespace walstream::vfs
