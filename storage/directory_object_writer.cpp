#include "storage/directory_object_writer.h"

#include "core/file_util.h"
#include "storage/file_errors.h"

namespace walstream::storage {

DirectoryObjectWriter::DirectoryObjectWriter(FileSystem& fs, std::string url, std::string key,
                                             std::string finalPath, std::string temporaryPath,
                                             UniqueFd fd)
    : fs_(fs),
      url_(std::move(url)),
      key_(std::move(key)),
      finalPath_(std::move(finalPath)),
      temporaryPath_(std::move(temporaryPath)),
      fd_(std::move(fd)) {}

DirectoryObjectWriter::~DirectoryObjectWriter() {
  abandon();
}

void DirectoryObjectWriter::write(std::span<const char> bytes) {
  requireUnfinished("write");
  try {
    fs_.writeFull(fd_.get(), bytes.data(), bytes.size(), temporaryPath_);
  } catch (const Error& e) {
    abandon();
    throw failure("write", e);
  }
  written_ += bytes.size();
}

void DirectoryObjectWriter::commit() {
  requireUnfinished("commit");
  try {
    fs_.fsync(fd_.get(), temporaryPath_);
    fd_.reset();
    fs_.rename(temporaryPath_, finalPath_);
  } catch (const Error& e) {
    abandon();
    throw failure("commit", e);
  }
  finished_ = true;
  try {
    fs_.fsyncDir(dirName(finalPath_));
  } catch (const Error& e) {
    // The new name might not survive a power loss, so the object is withdrawn: the caller,
    // seeing commit() fail, writes it again, and no listing returns it meanwhile.
    try {
      fs_.unlink(finalPath_);
    } catch (const Error&) {
      // The fsync's failure is the one to report.
    }
    throw failure("commit", e);
  }
}

void DirectoryObjectWriter::requireUnfinished(std::string_view verb) const {
  if (!finished_) return;
  throw StorageError(StorageError::Kind::kPermanent,
                     url_ + ": cannot " + std::string(verb) + " " + key_ +
                         ": the writer is finished (committed, or failed earlier)");
}

void DirectoryObjectWriter::abandon() noexcept {
  if (finished_) return;
  finished_ = true;
  fd_.reset();
  try {
    fs_.unlink(temporaryPath_);
  } catch (...) {
    // Called from the destructor and after a failure already being reported: a temporary file
    // left behind is invisible to listings, and removeStrayTemporaries() deletes it later.
  }
}

StorageError DirectoryObjectWriter::failure(std::string_view verb, const Error& cause) const {
  return fileFailure(url_, verb, key_, cause, OnMissing::kFailure);
}

}  // namespace walstream::storage
