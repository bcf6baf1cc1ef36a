// The HTTP requests of an S3 store, through libcurl: signed with AWS Signature V4 by curl itself
// (CURLOPT_AWS_SIGV4), TLS, proxies (the usual *_proxy variables) and timeouts included. One
// S3Http may be used from several threads at once: each request takes an easy handle from a
// small pool (reusing its connections) and gives it back.
//
// Every request has a connect timeout and a low-speed limit, so a server that stops answering
// fails the request instead of holding the caller forever.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "storage/s3_credentials.h"

namespace walstream::storage {

class S3RangeBody;

struct S3Timeouts {
  std::chrono::milliseconds connect{5000};
  // A transfer slower than lowSpeedBytesPerSecond for this long is abandoned.
  std::chrono::seconds lowSpeedTime{20};
  long lowSpeedBytesPerSecond = 1;
};

struct S3Request {
  const char* method = "GET";        // GET, HEAD, PUT, POST, DELETE
  std::string url;                   // complete and percent-encoded
  std::vector<std::string> headers;  // "Name: value"
  std::string_view body;             // sent for PUT and POST
  bool withContentMd5 = false;       // DeleteObjects requires one
  // Where a 2xx reply's body goes instead of S3Reply::body (a ranged GET's, s3_range_body.h);
  // restarted at the start of the request.
  S3RangeBody* rangeBody = nullptr;
};

struct S3Reply {
  long status = 0;
  std::string body;  // of an error reply, at most the first 64 KiB; empty with a rangeBody
  std::string etag;
  std::string lastModified;
  std::string contentRange;
  std::optional<uint64_t> contentLength;
};

class S3Http {
 public:
  S3Http(S3Credentials credentials, std::string region, S3Timeouts timeouts);
  ~S3Http();
  S3Http(const S3Http&) = delete;
  S3Http& operator=(const S3Http&) = delete;

  // The reply, whatever its status. A request that got no complete reply (a refused or reset
  // connection, a timeout, a name that does not resolve) throws StorageError(kTransient) with
  // curl's description; `what` ("<url>: cannot <verb> <key>") begins the message.
  S3Reply perform(const S3Request& request, std::string_view what);

 private:
  void* takeHandle();
  void giveBack(void* handle);

  const S3Credentials credentials_;
  const std::string sigv4_;  // "aws:amz:REGION:s3"
  const S3Timeouts timeouts_;
  std::mutex mu_;
  std::vector<void*> idle_;  // CURL* handles, at most a few (s3_http.cpp)
};

}  // namespace walstream::storage
