// Gives freed heap memory back to the system after streams end. glibc keeps freed chunks in
// its arenas (the worker threads' ones included), so the memory of many dropped streams would
// stay in the process's RSS; malloc_trim() returns it. Requests are coalesced: one trim runs on
// the worker pool a short while after the last of a burst of requests, once the ended streams
// have released their buffers. Thread-safe.
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

namespace walstream::server {

class MemoryTrimmer {
 public:
  // Everything runs on the worker pool (a strand of it), never on the event loop.
  explicit MemoryTrimmer(boost::asio::thread_pool& workers);

  // A stream ended: trim soon.
  void request();

 private:
  boost::asio::strand<boost::asio::thread_pool::executor_type> strand_;
  boost::asio::steady_timer timer_;  // on strand_
  bool armed_ = false;               // on strand_
};

}  // namespace walstream::server
