// One backup as the VFS reads it: its store, the page cache and page source shared by every
// file opened on it, the newest published view, and the poller that publishes newer ones
// (docs/vfs.md §5). Files adopt the current view at the start of each read transaction
// (backup_file.h).
//
// Threads: the poller thread builds views (view_feed.h) and publishes them under mu_; SQLite's
// callers take the current view under mu_ and fetch pages on their own threads.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "storage/object_store.h"
#include "vfs/page_cache.h"
#include "vfs/page_source.h"
#include "vfs/poller.h"
#include "vfs/source_options.h"
#include "vfs/view.h"
#include "vfs/view_feed.h"

namespace walstream::vfs {

class BackupSource {
 public:
  // Opens the store and builds the first view on the calling thread; starts the poller unless
  // options.poll is 0. Throws StorageError or Error with a one-line reason.
  explicit BackupSource(const SourceOptions& options);
  BackupSource(const BackupSource&) = delete;
  BackupSource& operator=(const BackupSource&) = delete;

  std::shared_ptr<const View> current() const;
  PageSource& pages() { return pages_; }
  const PageCache& cache() const { return cache_; }
  const std::string& url() const { return options_.url; }
  // Why the last poll failed; empty when it succeeded.
  std::string pollError() const;

 private:
  bool pollOnce();  // false when it failed (Poller retries sooner)

  const SourceOptions options_;
  const std::unique_ptr<storage::ObjectStore> store_;
  PageCache cache_;
  PageSource pages_;
  ViewFeed feed_;  // the constructor's, then the poller thread's alone
  mutable std::mutex mu_;
  std::shared_ptr<const View> view_;  // guarded by mu_
  std::string pollError_;             // guarded by mu_
  std::unique_ptr<Poller> poller_;    // last: stopped before the rest goes
};

}  // namespace walstream::vfs
