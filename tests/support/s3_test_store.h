// An S3 store (storage/s3_store.h) on a test's S3 server (s3_server.h), with short retries and
// timeouts so that failure tests end quickly. Header-only, so that the test support library
// itself does not link storage.
#pragma once

#include <memory>
#include <string>

#include "storage/s3_location.h"
#include "storage/s3_store.h"
#include "tests/support/s3_server.h"

namespace walstream::test {

inline storage::S3StoreOptions s3TestOptions() {
  storage::S3StoreOptions options;
  options.credentials = {S3Server::kAccessKeyId, S3Server::kSecretAccessKey, ""};
  options.partSize = storage::kMinS3PartSize;
  options.retry.maxAttempts = 4;
  options.retry.maxTotal = std::chrono::seconds(5);
  options.retry.baseDelay = std::chrono::milliseconds(50);
  options.retry.maxDelay = std::chrono::milliseconds(500);
  options.timeouts.connect = std::chrono::seconds(2);
  options.timeouts.lowSpeedTime = std::chrono::seconds(5);
  return options;
}

// The store at `url` (an s3:// URL) with these options.
inline std::unique_ptr<storage::S3Store> openS3TestStore(
    const std::string& url, const storage::S3StoreOptions& options = s3TestOptions()) {
  return std::make_unique<storage::S3Store>(url, storage::parseS3Url(url), options);
}

}  // namespace walstream::test
