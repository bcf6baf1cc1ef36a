// Observes when rows become visible to stock SQLite readers of one or more replicas. One
// thread re-runs "SELECT max(id) FROM rows" on a read-only connection per replica, each run its
// own read transaction, in a tight loop over all replicas; when max(id) grows from a to b, rows
// a+1..b are stamped with the current steady-clock time. Rows commit in id order on the
// primary, so the first time max(id) >= k is the first time row k is visible.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/sqlite_conn.h"

namespace walstream::bench {

class VisibilityPoller {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;
  static constexpr TimePoint kNever = TimePoint::max();

  // Watches rows firstId .. firstId + capacity - 1 on every replica database (which must
  // exist). Polls until stop() or for at most maxRun, sleeping `pause` after each sweep.
  VisibilityPoller(const std::vector<std::string>& replicaDbs, int64_t firstId, size_t capacity,
                   std::chrono::milliseconds maxRun, std::chrono::microseconds pause);
  ~VisibilityPoller();
  VisibilityPoller(const VisibilityPoller&) = delete;
  VisibilityPoller& operator=(const VisibilityPoller&) = delete;

  // Waits (bounded) until every replica shows row `id`; returns whether they did.
  bool waitUntilAllSee(int64_t id, std::chrono::milliseconds timeout) const;
  void stop();

  // After stop(): when row firstId + i first became visible on replica r, or kNever.
  const std::vector<TimePoint>& visibleTimes(size_t replica) const { return visible_[replica]; }
  // Completed sweeps over all replicas, and how long they took on average: the resolution of
  // every visibility time.
  uint64_t sweeps() const { return sweeps_.load(); }
  double meanSweepMicros() const;
  uint64_t errors() const { return errors_.load(); }
  std::string firstError() const;

 private:
  void run(std::chrono::milliseconds maxRun, std::chrono::microseconds pause);

  struct Watched {
    std::unique_ptr<SqliteConnection> conn;
    std::unique_ptr<SqliteStatement> maxId;
  };
  std::vector<Watched> watched_;
  int64_t firstId_;
  std::vector<std::vector<TimePoint>> visible_;
  std::unique_ptr<std::atomic<int64_t>[]> seen_;  // per replica, the largest max(id) seen
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> sweeps_{0};
  std::atomic<uint64_t> errors_{0};
  std::atomic<int64_t> pollingNanos_{0};
  mutable std::mutex mu_;
  std::string firstError_;
  std::thread thread_;
};

}  // namespace walstream::bench
