#include "backup/ordered_fetcher.h"

#include <algorithm>

namespace walstream::backup {

OrderedFetcher::OrderedFetcher(storage::ObjectStore& store, std::vector<FetchJob> jobs,
                               size_t threads, uint64_t maxBytesHeld)
    : store_(store), jobs_(std::move(jobs)), maxBytesHeld_(maxBytesHeld) {
  const size_t n = std::clamp<size_t>(threads, 1, std::max<size_t>(jobs_.size(), 1));
  for (size_t i = 0; i < n; ++i) {
    readers_.emplace_back([this](std::stop_token stop) { read(stop); });
  }
}

OrderedFetcher::~OrderedFetcher() {
  for (auto& r : readers_) r.request_stop();
  changed_.notify_all();
  readers_.clear();  // joins
}

void OrderedFetcher::read(std::stop_token stop) {
  for (;;) {
    size_t job = 0;
    {
      std::unique_lock lock(mu_);
      // A job starts when its bytes fit, or when nothing else is held (a large one alone).
      const bool started = changed_.wait(lock, stop, [&] {
        return nextToStart_ < jobs_.size() &&
               (bytesHeld_ == 0 || bytesHeld_ + jobs_[nextToStart_].length <= maxBytesHeld_);
      });
      if (!started) return;
      job = nextToStart_++;
      bytesHeld_ += jobs_[job].length;
    }
    const FetchJob& j = jobs_[job];
    std::string bytes;
    std::exception_ptr error;
    try {
      bytes = store_.read(j.key, j.offset, j.length);
      if (bytes.size() != j.length) {
        throw Error(store_.url() + "/" + j.key + ": truncated: " + std::to_string(bytes.size()) +
                    " bytes at offset " + std::to_string(j.offset) + ", want " +
                    std::to_string(j.length));
      }
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard lock(mu_);
      if (error) {
        failed_.emplace(job, std::move(error));
      } else {
        done_.emplace(job, std::move(bytes));
      }
    }
    changed_.notify_all();
  }
}

std::optional<std::string> OrderedFetcher::next() {
  std::unique_lock lock(mu_);
  if (nextToTake_ >= jobs_.size()) return std::nullopt;
  const size_t job = nextToTake_;
  changed_.wait(lock, [&] { return done_.contains(job) || failed_.contains(job); });
  if (auto f = failed_.find(job); f != failed_.end()) {
    std::exception_ptr error = std::move(f->second);
    failed_.erase(f);
    lock.unlock();
    std::rethrow_exception(error);
  }
  auto d = done_.find(job);
  std::string bytes = std::move(d->second);
  done_.erase(d);
  ++nextToTake_;
  bytesHeld_ -= jobs_[job].length;
  bytesTaken_ += jobs_[job].length;
  lock.unlock();
  changed_.notify_all();
  return bytes;
}

uint64_t OrderedFetcher::bytesTaken() const {
  std::lock_guard lock(mu_);
  return bytesTaken_;
}

}  // namespace walstream::backup
