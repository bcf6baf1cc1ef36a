#include "server/memory_trimmer.h"

#include <malloc.h>

#include <boost/asio/post.hpp>
#include <chrono>

namespace walstream::server {

namespace {

// Long enough for an ended stream's buffers to be released (its last handlers and disposals
// run), short enough that the memory is back within a second.
constexpr std::chrono::milliseconds kTrimDelay{300};

}  // namespace

MemoryTrimmer::MemoryTrimmer(boost::asio::thread_pool& workers)
    : strand_(boost::asio::make_strand(workers)), timer_(strand_) {}

void MemoryTrimmer::request() {
  boost::asio::post(strand_, [this] {
    if (armed_) return;
    armed_ = true;
    timer_.expires_after(kTrimDelay);
    timer_.async_wait([this](const boost::system::error_code& ec) {
      armed_ = false;
      if (ec) return;
      // Walks every arena, holding each one's lock for a moment: on a worker, not the loop.
      ::malloc_trim(0);
    });
  });
}

}  // namespace walstream::server
