// A store in an S3-compatible bucket (`s3://BUCKET/PREFIX?endpoint=...`, s3_location.h): each
// object is the bucket's object PREFIX/KEY. S3 itself gives the guarantees of object_store.h: a
// PUT or a completed multipart upload appears whole and durable, or not at all.
//
// Requests (s3_client.h): PUT or a multipart upload to write (s3_object_writer.h), HEAD for
// stat(), a ranged GET for read() and readInto() (checked to be the range asked for, and written
// straight into the caller's memory: s3_range_body.h), ListObjectsV2 page by page (continuation
// tokens, so a prefix with any number of objects lists completely; a '/' delimiter for
// listDirectories()), and DeleteObjects with up to 1,000 keys a request for remove(). Each is
// retried with backoff on transient failures within bounds (s3_retry_policy.h) and times out
// when the server stops answering (s3_http.h). Objects in the bucket whose names are no store
// keys (object_key.h) are skipped by listings.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "storage/object_store.h"
#include "storage/s3_client.h"
#include "storage/s3_credentials.h"

namespace walstream::storage {

class S3RangeBody;

struct S3StoreOptions {
  S3Credentials credentials;
  // Objects up to this size go up with one PUT; larger ones in parts of this size, one of which
  // is in memory at a time. S3 wants at least 5 MiB.
  uint64_t partSize = kDefaultS3PartSize;
  S3RetryPolicy retry;
  S3Timeouts timeouts;
};

class S3Store : public ObjectStore {
 public:
  // `url` is what url() returns; it must not hold credentials (parseS3Url refuses them).
  S3Store(std::string url, S3Location location, const S3StoreOptions& options);

  std::string url() const override;
  std::vector<std::string> listDirectories(const std::string& prefix) override;
  std::vector<ObjectInfo> list(const std::string& prefix) override;
  std::vector<ObjectInfo> listAfter(const std::string& prefix,
                                    const std::string& startAfter) override;
  ObjectInfo stat(const std::string& key) override;
  std::string read(const std::string& key, uint64_t offset, uint64_t maxBytes) override;
  // A ranged GET written straight into `out`, with no copy in between.
  uint64_t readInto(const std::string& key, uint64_t offset, std::span<char> out) override;
  std::unique_ptr<ObjectWriter> create(const std::string& key) override;
  void remove(const std::vector<std::string>& keys) override;

 private:
  // Calls onPage for each page of ListObjectsV2 of the bucket's names starting with `name` (and
  // sorting after `startAfter`, a bucket name, when not empty); `delimiter` "/" or empty.
  template <class OnPage>
  void listPages(const std::string& name, std::string_view delimiter, std::string_view prefix,
                 OnPage&& onPage, const std::string& startAfter = {});
  std::vector<ObjectInfo> listObjects(const std::string& prefix, const std::string& startAfter);
  // The store key of a name in the bucket; empty when it is not under the store's prefix or
  // not a key.
  std::string keyOf(const std::string& name) const;
  // The ranged GET of read() and readInto(), its body taken by `body`; the bytes it got.
  uint64_t readRange(const std::string& key, uint64_t offset, uint64_t maxBytes, S3RangeBody& body);
  void removeBatch(const std::vector<std::string>& keys, size_t begin, size_t end);

  const uint64_t partSize_;
  S3Client client_;
};

}  // namespace walstream::storage
