#include "core/record_file.h"

#include <fcntl.h>

#include "core/error.h"

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
  last_.assign(record);
  if (durable) sync();
}

void RecordFile::sync() {
  if (!fd_.valid()) return;
  try {
    if (syncFailed_) {
      // A failed fdatasync or directory fsync may have dropped what it was to write while
      // marking it clean, so syncing again proves nothing: the record gets a new file, made
      // durable from scratch, data and name.
      writeFileAtomic(*fs_, path_, last_);
      fd_ = fs_->openFile(path_, O_RDWR, 0644);  // the new file; the old one is unlinked
      length_ = last_.size();
      nameDurable_ = true;
      syncFailed_ = false;
      return;
    }
    fs_->fdatasync(fd_.get(), path_);
    // Once per open, not only after a creation seen here: a run that died after creating the
    // file may have left its name unflushed.
    if (!nameDurable_) {
      fs_->fsyncDir(dirName(path_));
      nameDurable_ = true;
    }
  } catch (const Error&) {
    syncFailed_ = true;
    throw;
  }
}

void RecordFile::remove() {
  fd_.reset();  // a later write must not land in the unlinked inode
  length_ = 0;
  syncFailed_ = false;
  fs_->unlink(path_);
}

}  // namespace walstream
