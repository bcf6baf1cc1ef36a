#include "core/record_file.h"

#include <fcntl.h>

namespace walstream {

void RecordFile::write(std::string_view record, bool durable) {
  if (!fd_.valid()) {
    fd_ = fs_->openFile(path_, O_RDWR | O_CREAT, 0644);
    length_ = fileSize(fd_.get(), path_);
    nameDurable_ = false;
  }
  fs_->pwriteFull(fd_.get(), record.data(), record.size(), 0, path_);
  if (length_ != record.size()) {
    fs_->ftruncate(fd_.get(), record.size(), path_);
    length_ = record.size();
  }
  if (durable) sync();
}

void RecordFile::sync() {
  if (!fd_.valid()) return;
  fs_->fdatasync(fd_.get(), path_);
  // Once per open, not only after a creation seen here: a run that died after creating the file
  // may have left its name unflushed. A failed directory fsync is tried again next time.
  if (!nameDurable_) {
    fs_->fsyncDir(dirName(path_));
    nameDurable_ = true;
  }
}

void RecordFile::remove() {
  fd_.reset();  // a later write must not land in the unlinked inode
  length_ = 0;
  fs_->unlink(path_);
}

}  // namespace walstream
