#include "server/capture/segment_iterator.h"

namespace walstream {

SegmentIterator::SegmentIterator(uint64_t generation, std::deque<SegmentInfo> initial,
                                 std::optional<Pos> start)
    : generation_(generation),
      queue_(std::move(initial)),
      start_(start),
      floorIndex_(start ? start->index : (queue_.empty() ? 0 : queue_.front().pos.index)) {
  for (SegmentInfo& s : queue_) noteLast(s);
}

void SegmentIterator::noteLast(SegmentInfo& info) {
  if (lastEnd_ && info.pos.offset == 0 && info.pos.index == lastEnd_->index + 1) {
    info.previousIndexEnd = lastEnd_->offset;
  }
  last_ = info.pos;
  lastEnd_.reset();
  if (info.walBytes != 0)
    lastEnd_ = Pos{info.pos.generation, info.pos.index, info.pos.offset + info.walBytes};
}

void SegmentIterator::consumed(const Pos& sent) {
  uint64_t floor = floorIndex_.load(std::memory_order_relaxed);
  while (sent.index > floor && !floorIndex_.compare_exchange_weak(floor, sent.index)) {
  }
}

std::optional<SegmentInfo> SegmentIterator::next() {
  std::lock_guard lock(mu_);
  if (ending_ || queue_.empty()) return std::nullopt;
  SegmentInfo s = std::move(queue_.front());
  queue_.pop_front();
  return s;
}

bool SegmentIterator::append(SegmentInfo info) {
  std::unique_lock lock(mu_);
  if (ending_ || closed_) return false;
  std::string problem;
  IteratorEnd reason = IteratorEnd::kError;
  if (info.pos.generation != generation_) {
    reason = IteratorEnd::kGenerationChanged;
    problem = "generation changed: appended segment of generation " +
              formatHex16(info.pos.generation) + " to an iterator of generation " +
              formatHex16(generation_);
  } else if (!last_ && start_ && info.pos != *start_ &&
             !(info.pos.index == start_->index + 1 && info.pos.offset == 0)) {
    problem = "first appended segment " + info.pos.str() + " does not start at " + start_->str();
  } else if (last_) {
    const Pos& l = *last_;
    if (info.pos.index < l.index) {
      problem = "appended index " + formatHex16(info.pos.index) + " below last index " +
                formatHex16(l.index);
    } else if (info.pos.index > l.index + 1) {
      problem = "appended index " + formatHex16(info.pos.index) + " skips index " +
                formatHex16(l.index + 1);
    } else if (info.pos.index == l.index + 1 && info.pos.offset != 0) {
      problem = "appended segment " + info.pos.str() + " starts index " +
                formatHex16(info.pos.index) + " past offset 0";
    } else if (info.pos.index == l.index && info.pos.offset <= l.offset) {
      problem = "appended offset " + info.pos.str() + " is not after the last offset " + l.str();
    } else if (info.pos.index == l.index && lastEnd_ && info.pos.offset != lastEnd_->offset) {
      problem = "appended segment " + info.pos.str() + " does not start where the last one " +
                "ended, " + lastEnd_->str();
    }
  }
  if (!problem.empty()) {
    ending_ = IteratorEnding{reason, std::move(problem)};
    notifyLocked(lock);
    return false;
  }
  noteLast(info);
  queue_.push_back(std::move(info));
  notifyLocked(lock);
  return true;
}

void SegmentIterator::fail(IteratorEnd reason, std::string message) {
  std::unique_lock lock(mu_);
  if (!ending_) ending_ = IteratorEnding{reason, std::move(message)};
  notifyLocked(lock);
}

std::optional<IteratorEnding> SegmentIterator::ending() const {
  std::lock_guard lock(mu_);
  return ending_;
}

std::optional<std::string> SegmentIterator::error() const {
  std::lock_guard lock(mu_);
  if (!ending_) return std::nullopt;
  return ending_->message;
}

void SegmentIterator::close() {
  std::lock_guard lock(mu_);
  closed_ = true;
  notify_ = nullptr;
  queue_.clear();
}

bool SegmentIterator::closed() const {
  std::lock_guard lock(mu_);
  return closed_;
}

bool SegmentIterator::armNotify(std::function<void()> fn) {
  std::lock_guard lock(mu_);
  if (ending_ || !queue_.empty() || closed_) return false;
  notify_ = std::move(fn);
  return true;
}

size_t SegmentIterator::pending() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

void SegmentIterator::notifyLocked(std::unique_lock<std::mutex>& lock) {
  std::function<void()> fn = std::move(notify_);
  notify_ = nullptr;
  lock.unlock();  // the callback may call back into the iterator
  if (fn) fn();
}

}  // namespace walstream
