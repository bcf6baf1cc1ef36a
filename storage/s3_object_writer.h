// S3Store's writer (s3_store.h). Holds at most one part in memory: an object that stays under
// the part size goes up with one PUT at commit(); a larger one becomes a multipart upload,
// started when the first part is full, each full part uploaded as it fills, the last one and
// the completion at commit(). S3 makes the object visible only when the upload completes, so an
// uncommitted writer leaves no object; destroying it (or a failure) aborts its upload so that
// no parts are left to pay for.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "storage/object_store.h"
#include "storage/s3_client.h"

namespace walstream::storage {

class S3ObjectWriter final : public ObjectWriter {
 public:
  // `partSize`: S3 wants at least 5 MiB for every part but the last.
  S3ObjectWriter(S3Client& client, std::string key, uint64_t partSize);
  ~S3ObjectWriter() override;
  S3ObjectWriter(const S3ObjectWriter&) = delete;
  S3ObjectWriter& operator=(const S3ObjectWriter&) = delete;

  // After a failure the writer is finished (its upload aborted): a further write() or commit()
  // throws StorageError(kPermanent).
  void write(std::span<const char> bytes) override;
  void commit() override;
  uint64_t bytesWritten() const override { return written_; }

 private:
  void requireUnfinished(std::string_view verb) const;
  // Uploads buffer_ as the next part (starting the upload first if needed) and empties it.
  void uploadPart();
  void completeUpload();
  // Aborts the multipart upload, if there is one and the writer is not finished. Never throws.
  void abandon() noexcept;

  S3Client& client_;
  const std::string key_;
  const std::string name_;  // in the bucket
  const uint64_t partSize_;
  std::string buffer_;    // the part being filled, at most partSize_ bytes
  std::string uploadId_;  // empty until a multipart upload starts
  std::vector<std::string> partETags_;
  uint64_t written_ = 0;
  bool finished_ = false;  // committed, failed or abandoned
};

}  // namespace walstream::storage
