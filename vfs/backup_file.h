// The main database file of a connection opened through the walstream VFS: reads served from
// the view the file adopted, which it replaces with its source's newest view only when SQLite
// takes a SHARED lock from no lock, i.e. at the start of a read transaction (docs/vfs.md §2).
// Between two such moments every read, page 1 included, comes from one view, so a query never
// sees a mix of two positions; and page 1's change counter (page_one.h) tells SQLite to drop its
// cache when the view changed.
//
// Used by one SQLite connection, on one thread at a time (SQLite serialises a connection's
// calls into its files).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "vfs/backup_source.h"
#include "vfs/view.h"

namespace walstream::vfs {

class BackupFile {
 public:
  explicit BackupFile(std::shared_ptr<BackupSource> source);

  // `amount` bytes from `offset` into `buffer`: SQLITE_OK, SQLITE_IOERR_SHORT_READ (past the
  // end: the rest zero-filled), or SQLITE_IOERR_READ after a storage failure, whose cause
  // lastError() then holds and sqlite3_log() received.
  int read(void* buffer, int amount, int64_t offset);
  int64_t size() const { return int64_t{view_->pageCount} * view_->pageSize; }
  // SQLite's lock levels (SQLITE_LOCK_*). A read-only file shares nothing on disk: the levels
  // only mark transaction boundaries.
  void lock(int level);
  void unlock(int level) { lockLevel_ = level; }

  // Why the last read failed; without one, why the source's latest poll for new backup objects
  // failed ("" when it succeeded): a view that stops moving forward says why.
  std::string lastError() const;
  const View& view() const { return *view_; }

 private:
  std::shared_ptr<BackupSource> source_;
  std::shared_ptr<const View> view_;
  int lockLevel_ = 0;
  std::string lastError_;
  std::vector<uint8_t> page_;  // the page being read
};

}  // namespace walstream::vfs
