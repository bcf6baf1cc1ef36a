#include "storage/s3_object_writer.h"

#include <algorithm>

#include "storage/s3_xml.h"

namespace walstream::storage {

S3ObjectWriter::S3ObjectWriter(S3Client& client, std::string key, uint64_t partSize)
    : client_(client),
      key_(std::move(key)),
      name_(client.location().objectName(key_)),
      partSize_(partSize) {}

S3ObjectWriter::~S3ObjectWriter() {
  abandon();
}

void S3ObjectWriter::write(std::span<const char> bytes) {
  requireUnfinished("write");
  try {
    while (!bytes.empty()) {
      const size_t take = std::min<uint64_t>(bytes.size(), partSize_ - buffer_.size());
      buffer_.append(bytes.data(), take);
      bytes = bytes.subspan(take);
      written_ += take;
      if (buffer_.size() == partSize_) uploadPart();
    }
  } catch (const StorageError&) {
    abandon();
    throw;
  }
}

void S3ObjectWriter::commit() {
  requireUnfinished("commit");
  try {
    if (uploadId_.empty()) {
      S3Call put("PUT", name_, "commit", key_);
      put.body = buffer_;
      client_.call(put);
    } else {
      if (!buffer_.empty()) uploadPart();
      completeUpload();
    }
  } catch (const StorageError&) {
    abandon();
    throw;
  }
  finished_ = true;
  buffer_ = std::string();
}

void S3ObjectWriter::uploadPart() {
  if (uploadId_.empty()) {
    S3Call start("POST", name_, "write", key_);
    start.query = "uploads=";
    uploadId_ = parseS3UploadId(client_.call(start).body);
  }
  S3Call put("PUT", name_, "write", key_);
  put.query = "partNumber=" + std::to_string(partETags_.size() + 1) +
              "&uploadId=" + s3UriEncode(uploadId_, false);
  put.body = buffer_;
  const S3Reply reply = client_.call(put);
  if (reply.etag.empty()) {
    throw StorageError(StorageError::Kind::kTransient, client_.storeUrl() + ": cannot write " +
                                                           key_ + ": a part's reply has no ETag");
  }
  partETags_.push_back(reply.etag);
  buffer_.clear();
}

void S3ObjectWriter::completeUpload() {
  const std::string body = s3CompleteMultipartRequest(partETags_);
  S3Call complete("POST", name_, "commit", key_);
  complete.query = "uploadId=" + s3UriEncode(uploadId_, false);
  complete.headers = {"Content-Type: application/xml"};
  complete.body = body;
  client_.call(complete);
}

void S3ObjectWriter::requireUnfinished(std::string_view verb) const {
  if (!finished_) return;
  throw StorageError(StorageError::Kind::kPermanent,
                     client_.storeUrl() + ": cannot " + std::string(verb) + " " + key_ +
                         ": the writer is finished (committed, or failed earlier)");
}

void S3ObjectWriter::abandon() noexcept {
  if (finished_) return;
  finished_ = true;
  buffer_ = std::string();
  if (uploadId_.empty()) return;
  try {
    S3Call abort("DELETE", name_, "abort the upload of", key_);
    abort.query = "uploadId=" + s3UriEncode(uploadId_, false);
    client_.callOnce(abort);
  } catch (...) {
    // On the way out of a destructor or of a failure already being reported. An upload left
    // behind holds no object; a bucket lifecycle rule (docs/backup.md) removes stale ones.
  }
}

}  // namespace walstream::storage
