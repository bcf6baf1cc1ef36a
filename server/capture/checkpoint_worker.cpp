#include "server/capture/checkpoint_worker.h"

#include <sqlite3.h>

#include "core/error.h"
#include "core/sqlite_conn.h"
#include "server/capture/segment_file_pool.h"
#include "server/capture/shadow_wal.h"

namespace walstream {

CheckpointWorker::CheckpointWorker(const std::string& dbPath, const ShadowWal& shadow,
                                   SegmentFilePool& pool, int busyTimeoutMs)
    : shadow_(shadow), pool_(pool), connection_(std::make_unique<SqliteConnection>(dbPath)) {
  connection_->setPersistWal(true);
  connection_->setBusyTimeout(busyTimeoutMs);
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

CheckpointWorker::~CheckpointWorker() {
  thread_.request_stop();
  changed_.notify_all();
  thread_.join();  // before connection_ closes
}

void CheckpointWorker::start(std::vector<Pos> segments, std::function<void()> afterDurable) {
  std::lock_guard lock(mu_);
  if (job_) throw Error("checkpoint worker: a job is already running");
  job_ = Job{std::move(segments), std::move(afterDurable)};
  changed_.notify_all();
}

bool CheckpointWorker::busy() const {
  std::lock_guard lock(mu_);
  return job_.has_value();
}

void CheckpointWorker::wait() {
  std::unique_lock lock(mu_);
  changed_.wait(lock, [&] { return !job_; });
}

void CheckpointWorker::rethrowFailure(std::vector<Pos>* notDurable) {
  std::exception_ptr failure;
  std::vector<Pos> segments;
  {
    std::lock_guard lock(mu_);
    std::swap(failure, failure_);
    std::swap(segments, notDurable_);
  }
  notDurable->insert(notDurable->begin(), segments.begin(), segments.end());
  if (failure) std::rethrow_exception(failure);
}

void CheckpointWorker::refillPool() {
  std::lock_guard lock(mu_);
  refill_ = true;
  changed_.notify_all();
}

void CheckpointWorker::run(std::stop_token stop) {
  for (;;) {
    std::optional<Job> job;
    bool refill = false;
    {
      std::unique_lock lock(mu_);
      if (!changed_.wait(lock, stop, [&] { return job_.has_value() || refill_; })) return;
      job = job_;
      refill = refill_;
    }
    std::exception_ptr failure;
    bool durable = false;
    try {
      if (job) {
        shadow_.makeDurable(job->segments);
        durable = true;
        if (job->afterDurable) job->afterDurable();
        connection_->checkpoint(SQLITE_CHECKPOINT_PASSIVE);
      }
      if (refill) pool_.fill();
    } catch (...) {
      failure = std::current_exception();
    }
    std::lock_guard lock(mu_);
    // Moved, not copied: the worker must drop its reference before the lock is released, so
    // the exception is destroyed by whichever thread rethrows it, after it is done with it.
    if (failure) failure_ = std::move(failure);
    if (job && !durable) {
      notDurable_.insert(notDurable_.end(), job->segments.begin(), job->segments.end());
    }
    if (job) job_.reset();
    if (refill) refill_ = false;
    changed_.notify_all();
  }
}

}  // namespace walstream
