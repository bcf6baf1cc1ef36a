// A queue of one generation's segments that a stream consumes while capture appends to it.
//
// It starts with the segments listed from disk and accepts appends while a reader is parked on
// it. Appends must continue the sequence: an index never goes below the last one, never skips
// one (index+1 starts a new WAL file, so at offset 0), and within an index each segment starts
// where the one before ended (when its size is known): core/pos.h segmentMayFollow. The first
// append to an iterator that knows no segment must start where its consumer is (`start`), or
// begin the next index there after a WAL restart. A violation fails the iterator: its consumer sees
// the error and ends the stream rather than sending a gap.
//
// Capture starts index I+1 only after it has published all of index I, so the end of the last
// segment of I that the iterator saw is where index I ended: the iterator records it in the
// first segment of I+1 (SegmentInfo::previousIndexEnd) for the consumer to check its position.
//
// Retention: the consumer reports how far it has sent (consumed()); capture keeps every WAL
// index at or after floorIndex() of each live iterator, so that segments listed from disk but
// not yet read are still there when they are read.
//
// Thread-safety: every member may be called from any thread. Capture appends from its thread;
// the stream session consumes on its executor. Notification is a one-shot callback armed with
// armNotify(); it runs on the appending thread right after the append or failure and must not
// block (it typically posts to the session's executor).
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "server/capture/shadow_wal.h"

namespace walstream {

// Why an iterator ended before its consumer closed it. A consumer decides on this, never on the
// message, which is for logs.
enum class IteratorEnd {
  kGenerationChanged,  // a new generation began: the consumer's position has no continuation
  kClosed,             // the capture stopped (closed, or failed)
  kError,              // an append broke the order rules, or another failure
};

struct IteratorEnding {
  IteratorEnd reason = IteratorEnd::kError;
  std::string message;  // readable, naming the positions involved
};

class SegmentIterator {
 public:
  // `initial` must be in (index, offset) order and of `generation`; `start` is where the
  // consumer stands (the first segment it needs starts there).
  SegmentIterator(uint64_t generation, std::deque<SegmentInfo> initial,
                  std::optional<Pos> start = std::nullopt);

  uint64_t generation() const { return generation_; }

  // The next segment, or nullopt when none is pending (or the iterator ended: see ending()).
  std::optional<SegmentInfo> next();

  // Adds a newly published segment. Returns false, and fails the iterator, if it does not
  // continue the sequence; returns false without change if already failed or closed.
  bool append(SegmentInfo info);

  // Ends the iterator. Keeps the first ending.
  void fail(IteratorEnd reason, std::string message);
  std::optional<IteratorEnding> ending() const;
  // The message of ending(), if any.
  std::optional<std::string> error() const;

  // The consumer is done; capture drops closed iterators.
  void close();
  bool closed() const;

  // If nothing is pending and the iterator has not failed, stores `fn` to be called once on the
  // next append or failure and returns true. Otherwise returns false and does not store it: the
  // caller should call next() / error() now. This closes the race between "empty" and "wait".
  bool armNotify(std::function<void()> fn);

  size_t pending() const;

  // The consumer has sent everything before `sent`.
  void consumed(const Pos& sent);
  // The lowest WAL index the consumer may still need.
  uint64_t floorIndex() const { return floorIndex_.load(std::memory_order_relaxed); }

 private:
  void notifyLocked(std::unique_lock<std::mutex>& lock);

  const uint64_t generation_;
  mutable std::mutex mu_;
  std::deque<SegmentInfo> queue_;
  // Records the last segment known (listed or appended) for the order rules, and annotates
  // `info` if it starts the next index.
  void noteLast(SegmentInfo& info);

  std::optional<Pos> last_;     // last segment known (listed or appended), for the order rules
  std::optional<Pos> lastEnd_;  // where it ended, when its size is known
  const std::optional<Pos> start_;
  std::atomic<uint64_t> floorIndex_;
  std::optional<IteratorEnding> ending_;
  bool closed_ = false;
  std::function<void()> notify_;
};

}  // namespace walstream
