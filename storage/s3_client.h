// The requests of one S3 store (s3_store.h) and its writers: each is sent to the store's bucket
// (s3_location.h), retried on transient failures (s3_retry_policy.h), and its reply turned into a
// StorageError unless it is a 2xx:
//   404 NoSuchKey, or without a body (HEAD)   kNotFound
//   429, 5xx                                  kTransient (retried first)
//   any other 4xx (NoSuchBucket too), or 3xx  kPermanent
// The message is "<store url>: cannot <verb> <key>: HTTP <status> <Code>: <Message>", with the
// server's error code and message (NoSuchBucket, AccessDenied, SignatureDoesNotMatch...).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "storage/s3_http.h"
#include "storage/s3_location.h"
#include "storage/s3_retry_policy.h"

namespace walstream::storage {

struct S3Call {
  S3Call(const char* method_, std::string name_, std::string_view verb_, std::string_view key_)
      : method(method_), name(std::move(name_)), verb(verb_), key(key_) {}

  const char* method;
  std::string name;   // the object's name in the bucket; empty for the bucket itself
  std::string query;  // canonical: parameters sorted by name, values encoded (s3UriEncode)
  std::vector<std::string> headers;
  std::string_view body;
  bool withContentMd5 = false;
  S3RangeBody* rangeBody = nullptr;  // S3Request::rangeBody
  // A status besides 2xx that is an answer rather than a failure (416 for a read past the end).
  long alsoAccepted = 0;
  // For messages: what was being done ("read", "list"...) and to which key or prefix.
  std::string_view verb;
  std::string_view key;
};

class S3Client {
 public:
  S3Client(std::string storeUrl, S3Location location, const S3Credentials& credentials,
           S3RetryPolicy retry, S3Timeouts timeouts);

  // The reply of a 2xx; throws StorageError as above, after the retries of a transient one.
  S3Reply call(const S3Call& call);
  // One try, no retries (an abort on a writer's way out).
  S3Reply callOnce(const S3Call& call);

  const std::string& storeUrl() const { return storeUrl_; }
  const S3Location& location() const { return location_; }

 private:
  const std::string storeUrl_;
  const S3Location location_;
  const S3RetryPolicy retry_;
  S3Http http_;
};

}  // namespace walstream::storage
