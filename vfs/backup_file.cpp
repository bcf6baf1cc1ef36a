#include "vfs/backup_file.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <exception>

#include "vfs/page_one.h"

namespace walstream::vfs {

BackupFile::BackupFile(std::shared_ptr<BackupSource> source)
    : source_(std::move(source)), view_(source_->current()) {}

void BackupFile::lock(int level) {
  if (lockLevel_ == SQLITE_LOCK_NONE && level >= SQLITE_LOCK_SHARED) view_ = source_->current();
  lockLevel_ = std::max(lockLevel_, level);
}

std::string BackupFile::lastError() const {
  if (!lastError_.empty()) return lastError_;
  const std::string poll = source_->pollError();
  return poll.empty() ? "" : "polling for new backup objects: " + poll;
}

int BackupFile::read(void* buffer, int amount, int64_t offset) {
  auto* out = static_cast<uint8_t*>(buffer);
  const View& view = *view_;
  const uint64_t pageSize = view.pageSize;
  uint64_t at = static_cast<uint64_t>(offset);
  uint64_t left = static_cast<uint64_t>(amount);
  page_.resize(pageSize);
  while (left > 0) {
    const uint64_t page = at / pageSize + 1;
    if (page > view.pageCount) {
      std::memset(out, 0, left);
      return SQLITE_IOERR_SHORT_READ;
    }
    try {
      source_->pages().readPage(view, static_cast<uint32_t>(page), page_);
    } catch (const std::exception& e) {
      lastError_ = e.what();
      sqlite3_log(SQLITE_IOERR_READ, "walstream vfs: page %llu: %s",
                  static_cast<unsigned long long>(page), lastError_.c_str());
      return SQLITE_IOERR_READ;
    }
    if (page == 1) patchPageOne(page_, view.version, view.pageCount);
    const uint64_t inPage = at % pageSize;
    const uint64_t n = std::min(left, pageSize - inPage);
    std::memcpy(out, page_.data() + inPage, n);
    out += n;
    at += n;
    left -= n;
  }
  return SQLITE_OK;
}

}  // namespace walstream::vfs
