// Lets threads that are not the event loop's (capture threads calling SegmentIterator notify
// callbacks) post to it safely while the server may be shutting down.
//
// Invariant: once close() has returned, no callback passed to run() is running or will run, so
// the server may destroy its io_context. Callbacks must be short (they post and return).
#pragma once

#include <mutex>

namespace walstream::server {

class PostGate {
 public:
  template <class Fn>
  void run(Fn&& fn) {
    std::lock_guard lock(mu_);
    if (open_) fn();
  }

  void close() {
    std::lock_guard lock(mu_);
    open_ = false;
  }

 private:
  std::mutex mu_;
  bool open_ = true;
};

}  // namespace walstream::server
