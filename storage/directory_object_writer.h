// DirectoryStore's writer (directory_store.h): bytes go to a temporary file beside the final
// name, which commit() fsyncs, renames into place and makes durable with an fsync of the
// directory. Any failure, or destruction before commit(), removes the temporary file.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "core/file_system.h"
#include "storage/object_store.h"

namespace walstream::storage {

class DirectoryObjectWriter final : public ObjectWriter {
 public:
  // `fd` is open for writing on `temporaryPath`, which is in the directory of `finalPath`.
  DirectoryObjectWriter(FileSystem& fs, std::string url, std::string key, std::string finalPath,
                        std::string temporaryPath, UniqueFd fd);
  ~DirectoryObjectWriter() override;
  DirectoryObjectWriter(const DirectoryObjectWriter&) = delete;
  DirectoryObjectWriter& operator=(const DirectoryObjectWriter&) = delete;

  // After a failure the writer is finished: the temporary file is gone, and a further write()
  // or commit() throws StorageError(kPermanent). Write the object again with a new writer.
  void write(std::span<const char> bytes) override;
  void commit() override;
  uint64_t bytesWritten() const override { return written_; }

 private:
  void requireUnfinished(std::string_view verb) const;
  // Closes and removes the temporary file, if the writer is not finished yet. Never throws.
  void abandon() noexcept;
  StorageError failure(std::string_view verb, const Error& cause) const;

  FileSystem& fs_;
  const std::string url_;
  const std::string key_;
  const std::string finalPath_;
  const std::string temporaryPath_;
  UniqueFd fd_;
  uint64_t written_ = 0;
  bool finished_ = false;  // committed, failed or abandoned
};

}  // namespace walstream::storage
