#include "core/record_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "core/error.h"

namespace walstream {

void RecordFile::write(std::string_view record, bool durable) {
  if (!fd_.valid()) {
    const bool existed = pathExists(path_);
    fd_ = openFile(path_, O_RDWR | O_CREAT, 0644);
    length_ = fileSize(fd_.get(), path_);
    if (!existed && durable) fsyncDir(dirName(path_));
  }
  pwriteFull(fd_.get(), record.data(), record.size(), 0, path_);
  if (length_ != record.size()) {
    if (::ftruncate(fd_.get(), static_cast<off_t>(record.size())) != 0) {
      throwErrno("cannot truncate", path_);
    }
    length_ = record.size();
  }
  if (durable) fdatasyncFd(fd_.get(), path_);
}

void RecordFile::sync() {
  if (fd_.valid()) fdatasyncFd(fd_.get(), path_);
}

void RecordFile::remove() {
  fd_.reset();  // a later write must not land in the unlinked inode
  length_ = 0;
  if (::unlink(path_.c_str()) != 0 && errno != ENOENT) throwErrno("cannot remove", path_);
}

}  // namespace walstream
