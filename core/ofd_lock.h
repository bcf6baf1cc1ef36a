// RAII open-file-description (OFD) byte-range locks on Linux (docs/sqlite-wal.md §4.5).
//
// OFD locks (F_OFD_SETLK, F_OFD_SETLKW, F_OFD_GETLK, l_pid = 0) belong to the open file
// description, not to the process. Unlike POSIX locks they conflict with the POSIX locks SQLite
// takes, even those of connections in the same process, in both directions, and they survive the
// closing of unrelated descriptors on the same file. That is what lets walstream take SQLite's
// WAL_WRITE_LOCK, DMS and SHARED-range locks beside stock SQLite connections in one process.
//
// Rules for users:
// - Locks taken through one descriptor (one open file description) never conflict with each
//   other and merge when they overlap: never hold two OfdLocks on overlapping ranges of the same
//   descriptor, or releasing one releases both.
// - The descriptor must stay open while the lock is held; closing its last descriptor releases
//   it (and, for the application's files, also drops SQLite's POSIX locks in this process).
// - SQLite never blocks in fcntl; it polls. acquireWithin() polls the same way, so a waiting
//   walstream never queues ahead of SQLite and the wait is bounded without a signal handler.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace walstream {

enum class LockMode { Shared, Exclusive };

class OfdLock {
 public:
  OfdLock() = default;  // holds nothing
  OfdLock(OfdLock&& o) noexcept;
  OfdLock& operator=(OfdLock&& o) noexcept;
  OfdLock(const OfdLock&) = delete;
  OfdLock& operator=(const OfdLock&) = delete;
  ~OfdLock() { release(); }

  // One non-blocking attempt (F_OFD_SETLK). Returns a lock that is not held() when another
  // holder conflicts; throws Error naming `path` on any other failure (bad descriptor, ...).
  static OfdLock tryAcquire(int fd, off_t start, off_t length, LockMode mode,
                            std::string_view path);
  // Retries tryAcquire with a short backoff (tens of microseconds growing to 1 ms) until it
  // succeeds or `timeout` has passed; not held() on timeout.
  static OfdLock acquireWithin(int fd, off_t start, off_t length, LockMode mode,
                               std::chrono::milliseconds timeout, std::string_view path);
  // Blocks in F_OFD_SETLKW until granted, without a time bound: only for holders known to let
  // go. A conflict the kernel recognises as a deadlock throws Error.
  static OfdLock acquireBlocking(int fd, off_t start, off_t length, LockMode mode,
                                 std::string_view path);

  // F_OFD_GETLK: the mode of a lock held by another owner (any OFD, or any process's POSIX
  // lock, this process's included) that would conflict with taking `mode` on the range;
  // nullopt when the range could be locked.
  static std::optional<LockMode> conflictingLock(int fd, off_t start, off_t length, LockMode mode,
                                                 std::string_view path);

  bool held() const { return fd_ >= 0; }
  explicit operator bool() const { return held(); }
  LockMode mode() const { return mode_; }
  off_t start() const { return start_; }
  off_t length() const { return length_; }

  // Unlocks the range now (best effort: an fd that is already gone has lost the lock anyway).
  void release() noexcept;

 private:
  OfdLock(int fd, off_t start, off_t length, LockMode mode)
      : fd_(fd), start_(start), length_(length), mode_(mode) {}

  int fd_ = -1;  // borrowed; -1 when nothing is held
  off_t start_ = 0;
  off_t length_ = 0;
  LockMode mode_ = LockMode::Shared;
};

}  // namespace walstream
