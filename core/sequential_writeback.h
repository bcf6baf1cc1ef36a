// Writeback of a large file written front to back (a replica's received snapshot, a restored
// database), started while it is still being written.
//
// Left alone, the kernel writes a fresh file back only at its dirty thresholds, so the final
// fsync of a bootstrap had the whole image to flush at once (about 90 ms per 256 MiB on the
// machine measured) and the page cache grew by the whole image. Every `window` bytes this asks
// for writeback of the window just written (SYNC_FILE_RANGE_WRITE, which does not wait), waits
// for the window before it (issued a window earlier, so normally done) and, unless the writer
// reads the file again soon (Cache::kKeep), drops its clean pages (POSIX_FADV_DONTNEED). The
// page cache then holds about two windows of the file, and the final fsync has at most two
// windows left.
//
// Not durability: sync_file_range flushes neither metadata nor the device cache. The caller
// still fsyncs the file before relying on it.
#pragma once

#include <cstdint>
#include <string>

namespace walstream {

class SequentialWriteback {
 public:
  static constexpr uint64_t kDefaultWindow = uint64_t{8} << 20;
  enum class Cache { kDrop, kKeep };

  // `fd` must outlive this object; `path` names it in errors.
  SequentialWriteback(int fd, std::string path, uint64_t window = kDefaultWindow,
                      Cache cache = Cache::kDrop);

  // The file now holds bytes [0, end) (end only grows). Blocks when writeback falls more than
  // a window behind. Throws Error when the kernel reports a write error.
  void wrote(uint64_t end);

 private:
  const int fd_;
  const std::string path_;
  const uint64_t window_;
  const Cache cache_;
  uint64_t started_ = 0;  // writeback was started for [0, started_)
  uint64_t dropped_ = 0;  // [0, dropped_) is written back (and, with kDrop, out of the cache)
};

}  // namespace walstream
