#include "core/sequential_writeback.h"

#include <fcntl.h>

#include <cerrno>

#include "core/error.h"

namespace walstream {

SequentialWriteback::SequentialWriteback(int fd, std::string path, uint64_t window, Cache cache)
    : fd_(fd), path_(std::move(path)), window_(window), cache_(cache) {}

void SequentialWriteback::wrote(uint64_t end) {
  if (end < started_ + window_) return;
  // Wait for the previous window, whose writeback was started one window ago, then drop it.
  if (started_ > dropped_) {
    const auto off = static_cast<off_t>(dropped_);
    const auto len = static_cast<off_t>(started_ - dropped_);
    if (::sync_file_range(fd_, off, len,
                          SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE |
                              SYNC_FILE_RANGE_WAIT_AFTER) != 0) {
      throwErrno("writeback failed at offset " + std::to_string(dropped_) + " of", path_);
    }
    // Advisory: pages it cannot drop only stay cached.
    if (cache_ == Cache::kDrop) (void)::posix_fadvise(fd_, off, len, POSIX_FADV_DONTNEED);
    dropped_ = started_;
  }
  if (::sync_file_range(fd_, static_cast<off_t>(started_), static_cast<off_t>(end - started_),
                        SYNC_FILE_RANGE_WRITE) != 0) {
    throwErrno("cannot start writeback at offset " + std::to_string(started_) + " of", path_);
  }
  started_ = end;
}

}  // namespace walstream
