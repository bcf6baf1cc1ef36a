#include "core/record_file.h"

#include <fcntl.h>

namespace walstream {

void RecordFile::write(std::string_view record, bool durable) {
  if (!fd_.valid()) {
    const bool existed = pathExists(path_);
    fd_ = fs_->openFile(path_, O_RDWR | O_CREAT, 0644);
    length_ = fileSize(fd_.get(), path_);
    if (!existed && durable) fs_->fsyncDir(dirName(path_));
  }
  fs_->pwriteFull(fd_.get(), record.data(), record.size(), 0, path_);
  if (length_ != record.size()) {
    fs_->ftruncate(fd_.get(), record.size(), path_);
    length_ = record.size();
  }
  if (durable) fs_->fdatasync(fd_.get(), path_);
}

void RecordFile::sync() {
  if (fd_.valid()) fs_->fdatasync(fd_.get(), path_);
}

void RecordFile::remove() {
  fd_.reset();  // a later write must not land in the unlinked inode
  length_ = 0;
  fs_->unlink(path_);
}

}  // namespace walstream
