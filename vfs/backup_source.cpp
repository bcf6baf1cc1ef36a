#include "vfs/backup_source.h"

#include <sqlite3.h>

#include <exception>

namespace walstream::vfs {

namespace {

// A reader waits on its page fetches: each S3 request is tried twice at most, and the page
// source's own retries (FetchPolicy) bound the whole.
storage::StoreOptions storeOptions(const SourceOptions& options) {
  storage::StoreOptions out;
  out.s3CredentialsFile = options.s3CredentialsFile;
  out.s3Retry.maxAttempts = 2;
  out.s3Retry.maxTotal = std::chrono::seconds(5);
  out.s3Retry.baseDelay = std::chrono::milliseconds(50);
  out.s3Retry.maxDelay = std::chrono::milliseconds(200);
  return out;
}

}  // namespace

BackupSource::BackupSource(const SourceOptions& options)
    : options_(options),
      store_(storage::openObjectStore(options.url, storeOptions(options))),
      cache_(options.cacheBytes),
      pages_(*store_, cache_, options.fetch),
      feed_(*store_),
      view_(feed_.first()) {
  if (options_.poll.count() > 0) {
    poller_ = std::make_unique<Poller>(options_.poll, [this] { return pollOnce(); });
  }
}

std::shared_ptr<const View> BackupSource::current() const {
  std::lock_guard lock(mu_);
  return view_;
}

std::string BackupSource::pollError() const {
  std::lock_guard lock(mu_);
  return pollError_;
}

bool BackupSource::pollOnce() {
  std::string error;
  std::shared_ptr<const View> next;
  try {
    next = feed_.poll();
  } catch (const std::exception& e) {
    error = e.what();
  }
  std::lock_guard lock(mu_);
  if (next) view_ = std::move(next);
  if (!error.empty() && error != pollError_) {
    sqlite3_log(SQLITE_IOERR, "walstream vfs: polling %s: %s", options_.url.c_str(), error.c_str());
  }
  const bool succeeded = error.empty();
  pollError_ = std::move(error);
  return succeeded;
}

}  // namespace walstream::vfs
