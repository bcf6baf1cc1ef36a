#include "core/checkpoint_worker.h"

#include <sqlite3.h>

#include "core/error.h"
#include "core/shadow_wal.h"
#include "core/sqlite_conn.h"

namespace walstream {

CheckpointWorker::CheckpointWorker(const std::string& dbPath, const ShadowWal& shadow,
                                   int busyTimeoutMs)
    : shadow_(shadow), connection_(std::make_unique<SqliteConnection>(dbPath)) {
  connection_->setPersistWal(true);
  connection_->setBusyTimeout(busyTimeoutMs);
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

CheckpointWorker::~CheckpointWorker() {
  thread_.request_stop();
  changed_.notify_all();
  thread_.join();  // before connection_ closes
}

void CheckpointWorker::start(std::vector<Pos> segments) {
  std::lock_guard lock(mu_);
  if (job_) throw Error("checkpoint worker: a job is already running");
  job_ = std::move(segments);
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

void CheckpointWorker::rethrowFailure() {
  std::exception_ptr failure;
  {
    std::lock_guard lock(mu_);
    std::swap(failure, failure_);
  }
  if (failure) std::rethrow_exception(failure);
}

void CheckpointWorker::run(std::stop_token stop) {
  for (;;) {
    std::vector<Pos> segments;
    {
      std::unique_lock lock(mu_);
      if (!changed_.wait(lock, stop, [&] { return job_.has_value(); })) return;
      segments = *job_;
    }
    std::exception_ptr failure;
    try {
      shadow_.makeDurable(segments);
      connection_->checkpoint(SQLITE_CHECKPOINT_PASSIVE);
    } catch (...) {
      failure = std::current_exception();
    }
    std::lock_guard lock(mu_);
    failure_ = failure;
    job_.reset();
    changed_.notify_all();
  }
}

}  // namespace walstream
