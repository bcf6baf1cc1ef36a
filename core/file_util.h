// File descriptors and durable file operations.
//
// Invariant for the application's files (db, -wal, -shm): never open and close a descriptor on
// them in a process that has SQLite connections to that database. Closing any descriptor drops
// every POSIX lock the process holds on the file, SQLite's included (docs/sqlite-wal.md §4.5). Open
// them once, keep the UniqueFd for as long as the connections live, and close it after them.
//
// Capture and apply write, sync, rename and remove their own files through core/file_system.h
// (which forwards here), so that tests can make those calls fail.
#pragma once

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace walstream {

class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd = -1);

 private:
  int fd_ = -1;
};

// open(2) with O_CLOEXEC; throws Error naming the path on failure.
UniqueFd openFile(const std::string& path, int flags, unsigned mode = 0644);
// As openFile, but returns an invalid fd when the file does not exist (ENOENT).
UniqueFd openFileIfExists(const std::string& path, int flags);

// Reads up to n bytes at offset; returns fewer only at end of file.
size_t preadFull(int fd, void* buf, size_t n, uint64_t offset, std::string_view path);
void pwriteFull(int fd, const void* buf, size_t n, uint64_t offset, std::string_view path);
// Writes the buffers back to back from `offset` (at most IOV_MAX of them), continuing after a
// short write.
void pwritevFull(int fd, std::span<const iovec> buffers, uint64_t offset, std::string_view path);
void writeFull(int fd, const void* buf, size_t n, std::string_view path);
void fsyncFd(int fd, std::string_view path);
// fdatasync: the data and what is needed to read it back (the size), not the timestamps, so an
// overwrite of allocated blocks needs no file-system journal commit.
void fdatasyncFd(int fd, std::string_view path);
uint64_t fileSize(int fd, std::string_view path);
// syncfs(2): makes everything written to the file system holding `path` durable.
void syncFileSystem(const std::string& path);

bool pathExists(const std::string& path);
// Bytes an unprivileged process may still write on the file system holding `path`
// (statvfs(3): f_bavail * f_frsize). Throws Error naming the path.
uint64_t freeBytes(const std::string& path);
std::string readFile(const std::string& path);  // whole file; throws if missing
// Writes `data` to path durably and atomically: path.tmp, fsync, rename, fsync of the directory.
void writeFileAtomic(const std::string& path, std::string_view data);
// Replaces path atomically (path.tmp, rename) without fsync: readers never see a partial file,
// but a crash may lose the update. For files that are rebuilt from durable data on start.
void replaceFileAtomic(const std::string& path, std::string_view data);
void fsyncDir(const std::string& dir);
void makeDirs(const std::string& path);                    // mkdir -p
void removeAll(const std::string& path);                   // rm -rf; missing is fine
std::vector<std::string> listDir(const std::string& dir);  // names; missing dir gives empty
std::string dirName(const std::string& path);
std::string baseName(const std::string& path);

}  // namespace walstream
