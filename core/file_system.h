// The file-system operations that capture, apply and the directory store perform on walstream's
// own files, behind an interface that tests substitute to inject failures (a failed or short
// write, a failed fsync) at any point of writing a segment, an append or an object
// (tests/support/faulty_file_system.h).
//
// What goes through it (docs/README.md, "File-system seam"):
//   - capture: shadow segment files (spare-pool files, .tmp, rename into place, fdatasync, syncfs,
//     directory fsyncs, cutting a damaged tail), the generation file, the position file, the
//     directories of the shadow WAL;
//   - apply: the replica's -wal (its header, frames, preallocation, fdatasync), the growth of
//     its -shm, the position file, a received snapshot file (create, write, fsync, rename into
//     place), removing a stale -wal/-shm before a first install;
//   - storage: a directory store's objects (temporary file, write, fsync, rename, directory
//     fsync), the directories it creates, removing objects and stray temporaries.
// What does not: SQLite's own I/O (SQLite has its VFS), reads (pread, listings, stat), advisory
// writeback (sync_file_range), removal of retired directories (and of those a store's removal
// left empty), and opening the application's files read-only.
//
// Cost: one virtual call per operation; no allocation beyond what the operation itself makes.
// Every implementation must be safe to call from several threads at once (capture's thread and
// its checkpoint worker share one). The real one (realFileSystem()) holds no state.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/file_util.h"

namespace walstream {

class FileSystem {
 public:
  virtual ~FileSystem() = default;

  // open(2) with O_CLOEXEC; throws Error naming the path.
  virtual UniqueFd openFile(const std::string& path, int flags, unsigned mode = 0644) = 0;
  // As openFile, but an invalid fd when the file does not exist (ENOENT).
  virtual UniqueFd openFileIfExists(const std::string& path, int flags) = 0;
  // All of `n` bytes, or an Error (some bytes may have been written: a short write).
  virtual void pwriteFull(int fd, const void* buf, size_t n, uint64_t offset,
                          std::string_view path) = 0;
  virtual void writeFull(int fd, const void* buf, size_t n, std::string_view path) = 0;
  virtual void fsync(int fd, std::string_view path) = 0;
  virtual void fdatasync(int fd, std::string_view path) = 0;
  // syncfs(2) of the file system holding `path`.
  virtual void syncFileSystem(const std::string& path) = 0;
  virtual void fsyncDir(const std::string& dir) = 0;
  virtual void rename(const std::string& from, const std::string& to) = 0;
  // False when the file did not exist; throws Error on any other failure.
  virtual bool unlink(const std::string& path) = 0;
  virtual void truncate(const std::string& path, uint64_t size) = 0;
  virtual void ftruncate(int fd, uint64_t size, std::string_view path) = 0;
  virtual void makeDirs(const std::string& path) = 0;  // mkdir -p
};

// POSIX, through file_util. Stateless; lives for the whole program.
FileSystem& realFileSystem();

// Writes `data` to path durably and atomically: path.tmp, fsync, rename, fsync of the directory.
// A failure removes path.tmp and leaves the old file untouched.
void writeFileAtomic(FileSystem& fs, const std::string& path, std::string_view data);

}  // namespace walstream
