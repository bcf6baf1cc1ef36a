#include "server/capture/segment_iterator.h"

#include <algorithm>

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
  if (lastEnd_ && segmentSuccession(*lastEnd_, info.pos) == SegmentSuccession::kStartsNextIndex) {
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

namespace {

// Why `next` may not follow the last segment known, which started at `last` and, when its size
// is known, ended at `lastEnd`; "" when it may. The rule is segmentMayFollow's; without a known
// end, any offset past the last segment's start stands in for it.
std::string orderProblem(const Pos& last, const std::optional<Pos>& lastEnd, const Pos& next) {
  const Pos end =
      lastEnd ? *lastEnd : Pos{last.generation, last.index, std::max(next.offset, last.offset + 1)};
  if (segmentMayFollow(end, next)) return {};
  if (next.index < last.index) {
    return "appended index " + formatHex16(next.index) + " below last index " +
           formatHex16(last.index);
  }
  if (next.index > last.index + 1) {
    return "appended index " + formatHex16(next.index) + " skips index " +
           formatHex16(last.index + 1);
  }
  if (next.index == last.index + 1) {
    return "appended segment " + next.str() + " starts index " + formatHex16(next.index) +
           " past offset 0";
  }
  if (next.offset <= last.offset) {
    return "appended offset " + next.str() + " is not after the last offset " + last.str();
  }
  return "appended segment " + next.str() + " does not start where the last one ended, " +
         lastEnd->str();
}

}  // namespace

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
  } else if (!last_ && start_ && !segmentMayFollow(*start_, info.pos)) {
    problem = "first appended segment " + info.pos.str() + " does not start at " + start_->str();
  } else if (last_) {
    problem = orderProblem(*last_, lastEnd_, info.pos);
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
