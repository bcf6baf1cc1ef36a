// Files of removed shadow WAL segments, kept to be written again as new segments.
//
// Capture writes one file per segment and retention deletes them an index at a time: at
// 1000 tx/s about a thousand files a second are created and as many deleted. On ext4 without a
// journal (the machine measured), every inode allocation then scans past the inodes deleted in
// the last seconds, and creating the segment files became half of the primary's CPU time.
// Renaming a retired file into place needs neither an inode allocation nor a deletion.
//
// Layout: DB-walstream/spare/<16 hex digits>. A pooled file means nothing, and a pool left by
// a crash is simply reused. A file is taken with its old bytes: the writer overwrites them and
// cuts the file to what it wrote (ShadowWal::storeSegments). Truncating it to 0 when taken
// instead cost about 15% of capture's CPU at 1000 tx/s on ext4: the old blocks freed, new ones
// allocated, and, as for any file truncated to 0 and written, its data flushed at close
// (auto_da_alloc). Overwritten blocks need neither. The capture thread takes and retires
// files; the checkpoint worker refills the pool in the background (fill), so inode allocations
// stay off the path from commit to publish. Thread-safe; no syscall runs under the mutex.
//
// Invariant: a file is reused only kQuarantine after it was retired, oldest first. A stream
// that opened a segment just before retention retired it reads the inode it opened; the
// quarantine keeps that inode from being rewritten as another segment under such a reader.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>

#include "core/file_system.h"
#include "core/file_util.h"

namespace walstream {

// A file open for writing the next segment; writeSegment renames it to the segment's name.
// It may hold bytes of an earlier segment: whoever writes it starts at offset 0 and cuts the
// file to the length written (ftruncate) before giving it a name.
struct SpareFile {
  UniqueFd fd;
  std::string path;
};

class SegmentFilePool {
 public:
  // Files are created, opened, renamed and removed through `fs` (core/file_system.h), which
  // must outlive this.
  explicit SegmentFilePool(std::string dir, FileSystem& fs = realFileSystem())
      : dir_(std::move(dir)), fs_(fs) {}

  // Moves the file at `path` into the pool, or deletes it when the pool is full.
  void retire(const std::string& path);
  // A file to write a segment to, open for writing at offset 0: a pooled one with its old bytes
  // (see SpareFile), or a new, empty one.
  SpareFile take();

  // Files kept ready: about a second of segments under a heavy write load.
  static constexpr size_t kTarget = 256;

  // Creates files until kTarget are pooled (at start, and on the worker when refillWanted()).
  void fill();
  // True when the pool has run below half of kTarget.
  bool refillWanted();

  size_t size();  // files pooled now

 private:
  void load();             // lists dir_ once, on first use; requires mu_
  std::string nextPath();  // requires mu_

  const std::string dir_;
  FileSystem& fs_;
  std::mutex mu_;
  bool loaded_ = false;
  struct Pooled {
    std::string path;
    std::chrono::steady_clock::time_point retiredAt;
  };
  std::deque<Pooled> files_;  // in retirement order

  uint64_t nextName_ = 0;  // above every name in dir_
};

}  // namespace walstream
