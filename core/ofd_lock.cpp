#include "core/ofd_lock.h"

#include <fcntl.h>

#include <cerrno>
#include <thread>
#include <utility>

#include "core/error.h"

namespace walstream {

namespace {

struct flock makeFlock(short type, off_t start, off_t length) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = start;
  fl.l_len = length;
  fl.l_pid = 0;  // required by F_OFD_*
  return fl;
}

short lockType(LockMode mode) {
  return mode == LockMode::Exclusive ? F_WRLCK : F_RDLCK;
}

// "bytes [start, +length) of"; throwErrno appends the path.
std::string describe(off_t start, off_t length) {
  return "bytes [" + std::to_string(start) + ", +" + std::to_string(length) + ") of";
}

}  // namespace

OfdLock::OfdLock(OfdLock&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), start_(o.start_), length_(o.length_), mode_(o.mode_) {}

OfdLock& OfdLock::operator=(OfdLock&& o) noexcept {
  if (this != &o) {
    release();
    fd_ = std::exchange(o.fd_, -1);
    start_ = o.start_;
    length_ = o.length_;
    mode_ = o.mode_;
  }
  return *this;
}

OfdLock OfdLock::tryAcquire(int fd, off_t start, off_t length, LockMode mode,
                            std::string_view path) {
  struct flock fl = makeFlock(lockType(mode), start, length);
  while (::fcntl(fd, F_OFD_SETLK, &fl) != 0) {
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EACCES) return {};
    throwErrno("cannot lock " + describe(start, length), path);
  }
  return OfdLock(fd, start, length, mode);
}

OfdLock OfdLock::acquireWithin(int fd, off_t start, off_t length, LockMode mode,
                               std::chrono::milliseconds timeout, std::string_view path) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + timeout;
  auto pause = std::chrono::microseconds(20);
  for (;;) {
    OfdLock lock = tryAcquire(fd, start, length, mode, path);
    if (lock.held()) return lock;
    const auto now = Clock::now();
    if (now >= deadline) return {};
    std::this_thread::sleep_for(std::min<Clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, std::chrono::microseconds(1000));
  }
}

OfdLock OfdLock::acquireBlocking(int fd, off_t start, off_t length, LockMode mode,
                                 std::string_view path) {
  struct flock fl = makeFlock(lockType(mode), start, length);
  while (::fcntl(fd, F_OFD_SETLKW, &fl) != 0) {
    if (errno == EINTR) continue;
    throwErrno("cannot lock (waiting) " + describe(start, length), path);
  }
  return OfdLock(fd, start, length, mode);
}

std::optional<LockMode> OfdLock::conflictingLock(int fd, off_t start, off_t length, LockMode mode,
                                                 std::string_view path) {
  struct flock fl = makeFlock(lockType(mode), start, length);
  if (::fcntl(fd, F_OFD_GETLK, &fl) != 0) {
    throwErrno("cannot query locks on " + describe(start, length), path);
  }
  if (fl.l_type == F_UNLCK) return std::nullopt;
  return fl.l_type == F_WRLCK ? LockMode::Exclusive : LockMode::Shared;
}

void OfdLock::release() noexcept {
  if (fd_ < 0) return;
  struct flock fl = makeFlock(F_UNLCK, start_, length_);
  while (::fcntl(fd_, F_OFD_SETLK, &fl) != 0 && errno == EINTR) {
  }
  fd_ = -1;
}

}  // namespace walstream
