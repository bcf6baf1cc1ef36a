#include "bench/visibility_poller.h"

#include <sqlite3.h>
#include <sys/prctl.h>

#include "core/error.h"

namespace walstream::bench {

using namespace std::chrono_literals;

VisibilityPoller::VisibilityPoller(const std::vector<std::string>& replicaDbs, int64_t firstId,
                                   size_t capacity, std::chrono::milliseconds maxRun,
                                   std::chrono::microseconds pause)
    : firstId_(firstId),
      visible_(replicaDbs.size(), std::vector<TimePoint>(capacity, kNever)),
      seen_(new std::atomic<int64_t>[replicaDbs.size()]) {
  for (size_t r = 0; r < replicaDbs.size(); ++r) {
    Watched w;
    // Connections are opened here and then used only by the polling thread.
    w.conn = std::make_unique<SqliteConnection>(replicaDbs[r], SQLITE_OPEN_READONLY);
    w.maxId = std::make_unique<SqliteStatement>(*w.conn, "SELECT coalesce(max(id), 0) FROM rows");
    watched_.push_back(std::move(w));
    seen_[r] = 0;
  }
  thread_ = std::thread([this, maxRun, pause] { run(maxRun, pause); });
}

VisibilityPoller::~VisibilityPoller() {
  stop();
}

void VisibilityPoller::stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void VisibilityPoller::run(std::chrono::milliseconds maxRun, std::chrono::microseconds pause) {
  // The default 50 us of timer slack would double a short pause between polls.
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + maxRun;
  auto now = start;
  while (!stop_ && now < deadline) {
    for (size_t r = 0; r < watched_.size(); ++r) {
      int64_t maxId = 0;
      try {
        watched_[r].maxId->step();
        maxId = watched_[r].maxId->columnInt(0);
        // Resetting ends the read transaction the statement began: the next run starts a
        // fresh one and sees the newest commit.
        watched_[r].maxId->reset();
      } catch (const Error& e) {
        watched_[r].maxId->reset();
        ++errors_;
        std::lock_guard lock(mu_);
        if (firstError_.empty()) firstError_ = e.what();
        continue;
      }
      now = std::chrono::steady_clock::now();
      const int64_t before = seen_[r].load(std::memory_order_relaxed);
      if (maxId > before) {
        auto& times = visible_[r];
        const int64_t from = std::max(before + 1, firstId_);
        const int64_t to = std::min(maxId, firstId_ + static_cast<int64_t>(times.size()) - 1);
        for (int64_t id = from; id <= to; ++id) times[static_cast<size_t>(id - firstId_)] = now;
        seen_[r].store(maxId, std::memory_order_release);
      }
    }
    ++sweeps_;
    if (pause.count() > 0) std::this_thread::sleep_for(pause);
    now = std::chrono::steady_clock::now();
  }
  pollingNanos_ = std::chrono::duration_cast<std::chrono::nanoseconds>(now - start).count();
}

bool VisibilityPoller::waitUntilAllSee(int64_t id, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    bool all = true;
    for (size_t r = 0; r < watched_.size() && all; ++r) all = seen_[r].load() >= id;
    if (all) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(1ms);
  }
}

double VisibilityPoller::meanSweepMicros() const {
  const uint64_t n = sweeps_.load();
  return n ? static_cast<double>(pollingNanos_.load()) / 1000.0 / static_cast<double>(n) : 0;
}

std::string VisibilityPoller::firstError() const {
  std::lock_guard lock(mu_);
  return firstError_;
}

}  // namespace walstream::bench
