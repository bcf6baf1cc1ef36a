#include "core/file_system.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "core/error.h"

namespace walstream {

namespace {

class PosixFileSystem final : public FileSystem {
 public:
  UniqueFd openFile(const std::string& path, int flags, unsigned mode) override {
    return walstream::openFile(path, flags, mode);
  }
  UniqueFd openFileIfExists(const std::string& path, int flags) override {
    return walstream::openFileIfExists(path, flags);
  }
  void pwriteFull(int fd, const void* buf, size_t n, uint64_t offset,
                  std::string_view path) override {
    walstream::pwriteFull(fd, buf, n, offset, path);
  }
  void writeFull(int fd, const void* buf, size_t n, std::string_view path) override {
    walstream::writeFull(fd, buf, n, path);
  }
  void fsync(int fd, std::string_view path) override { fsyncFd(fd, path); }
  void fdatasync(int fd, std::string_view path) override { fdatasyncFd(fd, path); }
  void syncFileSystem(const std::string& path) override { walstream::syncFileSystem(path); }
  void fsyncDir(const std::string& dir) override { walstream::fsyncDir(dir); }
  void rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) throwErrno("cannot rename " + from + " to", to);
  }
  bool unlink(const std::string& path) override {
    if (::unlink(path.c_str()) == 0) return true;
    if (errno == ENOENT) return false;
    throwErrno("cannot remove", path);
  }
  void truncate(const std::string& path, uint64_t size) override {
    if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) {
      throwErrno("cannot truncate", path);
    }
  }
  void ftruncate(int fd, uint64_t size, std::string_view path) override {
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) throwErrno("cannot truncate", path);
  }
  void makeDirs(const std::string& path) override { walstream::makeDirs(path); }
};

}  // namespace

FileSystem& realFileSystem() {
  static PosixFileSystem fs;
  return fs;
}

void writeFileAtomic(FileSystem& fs, const std::string& path, std::string_view data) {
  const std::string tmp = path + ".tmp";
  UniqueFd fd = fs.openFile(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  try {
    fs.writeFull(fd.get(), data.data(), data.size(), tmp);
    fs.fsync(fd.get(), tmp);
    fd.reset();
    fs.rename(tmp, path);
  } catch (const Error&) {
    try {
      fs.unlink(tmp);  // a failed write leaves nothing behind; the old file is untouched
    } catch (const Error&) {
      // The first failure is the one to report; a stray .tmp is overwritten next time.
    }
    throw;
  }
  fs.fsyncDir(dirName(path));
}

}  // namespace walstream
