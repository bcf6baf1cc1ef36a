#include "core/file_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <filesystem>
#include <memory>

#include "core/error.h"
#include "core/file_system.h"

namespace walstream {

UniqueFd& UniqueFd::operator=(UniqueFd&& o) noexcept {
  if (this != &o) reset(o.release());
  return *this;
}

void UniqueFd::reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

UniqueFd openFile(const std::string& path, int flags, unsigned mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) throwErrno("cannot open", path);
  return UniqueFd(fd);
}

UniqueFd openFileIfExists(const std::string& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) return {};
    throwErrno("cannot open", path);
  }
  return UniqueFd(fd);
}

size_t preadFull(int fd, void* buf, size_t n, uint64_t offset, std::string_view path) {
  size_t done = 0;
  auto* p = static_cast<uint8_t*>(buf);
  while (done < n) {
    ssize_t r = ::pread(fd, p + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      throwErrno("read failed at offset " + std::to_string(offset + done) + " of", path);
    }
    if (r == 0) break;
    done += static_cast<size_t>(r);
  }
  return done;
}

void pwriteFull(int fd, const void* buf, size_t n, uint64_t offset, std::string_view path) {
  size_t done = 0;
  auto* p = static_cast<const uint8_t*>(buf);
  while (done < n) {
    ssize_t r = ::pwrite(fd, p + done, n - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      throwErrno("write failed at offset " + std::to_string(offset + done) + " of", path);
    }
    done += static_cast<size_t>(r);
  }
}

void pwritevFull(int fd, std::span<const iovec> buffers, uint64_t offset, std::string_view path) {
  std::vector<iovec> left(buffers.begin(), buffers.end());
  size_t first = 0;
  uint64_t at = offset;
  while (first < left.size()) {
    const ssize_t r = ::pwritev(fd, left.data() + first, static_cast<int>(left.size() - first),
                                static_cast<off_t>(at));
    if (r < 0) {
      if (errno == EINTR) continue;
      throwErrno("write failed at offset " + std::to_string(at) + " of", path);
    }
    at += static_cast<uint64_t>(r);
    // Skip what was written: whole buffers, then part of the next.
    for (auto done = static_cast<size_t>(r); done > 0 && first < left.size();) {
      const size_t n = std::min(done, left[first].iov_len);
      left[first].iov_base = static_cast<char*>(left[first].iov_base) + n;
      left[first].iov_len -= n;
      done -= n;
      if (left[first].iov_len == 0) ++first;
    }
    while (first < left.size() && left[first].iov_len == 0) ++first;
  }
}

void writeFull(int fd, const void* buf, size_t n, std::string_view path) {
  size_t done = 0;
  auto* p = static_cast<const uint8_t*>(buf);
  while (done < n) {
    ssize_t r = ::write(fd, p + done, n - done);
    if (r < 0) {
      if (errno == EINTR) continue;
      throwErrno("write failed", path);
    }
    done += static_cast<size_t>(r);
  }
}

void fsyncFd(int fd, std::string_view path) {
  if (::fsync(fd) != 0) throwErrno("fsync failed", path);
}

void fdatasyncFd(int fd, std::string_view path) {
  if (::fdatasync(fd) != 0) throwErrno("fdatasync failed", path);
}

void syncFileSystem(const std::string& path) {
  UniqueFd fd = openFile(path, O_RDONLY);
  if (::syncfs(fd.get()) != 0) throwErrno("syncfs failed for the file system of", path);
}

uint64_t fileSize(int fd, std::string_view path) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throwErrno("fstat failed", path);
  return static_cast<uint64_t>(st.st_size);
}

uint64_t freeBytes(const std::string& path) {
  struct statvfs st {};
  if (::statvfs(path.c_str(), &st) != 0) throwErrno("cannot read the free space of", path);
  return static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
}

bool pathExists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

std::string readFile(const std::string& path) {
  UniqueFd fd = openFile(path, O_RDONLY);
  std::string out(fileSize(fd.get(), path), '\0');
  out.resize(preadFull(fd.get(), out.data(), out.size(), 0, path));
  return out;
}

void fsyncDir(const std::string& dir) {
  UniqueFd fd = openFile(dir, O_RDONLY | O_DIRECTORY);
  fsyncFd(fd.get(), dir);
}

void writeFileAtomic(const std::string& path, std::string_view data) {
  writeFileAtomic(realFileSystem(), path, data);
}

void replaceFileAtomic(const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  {
    UniqueFd fd = openFile(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    writeFull(fd.get(), data.data(), data.size(), tmp);
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) throwErrno("cannot rename " + tmp + " to", path);
}

void makeDirs(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) throwSystemError("cannot create directory", path, ec.value());
}

void removeAll(const std::string& path) {
  std::error_code ec;
  std::filesystem::remove_all(path, ec);
  if (ec) throwSystemError("cannot remove", path, ec.value());
}

std::vector<std::string> listDir(const std::string& dir) {
  std::vector<std::string> names;
  struct DirCloser {
    void operator()(DIR* d) const { ::closedir(d); }
  };
  std::unique_ptr<DIR, DirCloser> d(::opendir(dir.c_str()));
  if (!d) {
    if (errno == ENOENT) return names;
    throwErrno("cannot list directory", dir);
  }
  for (;;) {
    errno = 0;  // readdir reports errors only through errno
    dirent* e = ::readdir(d.get());
    if (!e) {
      if (errno != 0) throwErrno("cannot list directory", dir);
      break;
    }
    std::string name = e->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
  }
  return names;
}

std::string dirName(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string baseName(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace walstream
