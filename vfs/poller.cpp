#include "vfs/poller.h"

namespace walstream::vfs {

Poller::Poller(std::chrono::milliseconds interval, std::function<void()> poll)
    : thread_([this, interval, poll = std::move(poll)](std::stop_token stop) {
        while (true) {
          {
            std::unique_lock lock(mu_);
            // Returns early (true) only when stopped.
            if (wake_.wait_for(lock, stop, interval, [] { return false; }) ||
                stop.stop_requested()) {
              return;
            }
          }
          poll();
        }
      }) {}

Poller::~Poller() {
  thread_.request_stop();  // wakes wait_for through the stop token
  thread_.join();
}

}  // namespace walstream::vfs
