// The segments a backup has taken from its iterator and not yet written, in order, with a count
// of the ones that hold their bytes in memory (published live, before their file was read back):
// those are what a backup that falls behind must bound.
#pragma once

#include <cstdint>
#include <deque>

#include "server/capture/shadow_wal.h"

namespace walstream::backup {

class PendingSegments {
 public:
  bool empty() const { return queue_.empty(); }
  size_t size() const { return queue_.size(); }
  const SegmentInfo& front() const { return queue_.front(); }
  uint64_t liveBytes() const { return liveBytes_; }
  size_t liveSegments() const { return liveSegments_; }

  void push(SegmentInfo s) {
    if (s.data) {
      liveBytes_ += s.data->size();
      ++liveSegments_;
    }
    queue_.push_back(std::move(s));
  }
  SegmentInfo pop() {
    SegmentInfo s = std::move(queue_.front());
    queue_.pop_front();
    if (s.data) {
      liveBytes_ -= s.data->size();
      --liveSegments_;
    }
    return s;
  }
  void clear() {
    queue_.clear();
    liveBytes_ = 0;
    liveSegments_ = 0;
  }

 private:
  std::deque<SegmentInfo> queue_;
  uint64_t liveBytes_ = 0;
  size_t liveSegments_ = 0;
};

}  // namespace walstream::backup
