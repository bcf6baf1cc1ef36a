// The XML documents of the S3 API that an S3 store reads and writes, through pugixml. A reply
// that is not the document expected throws StorageError(kTransient): a proxy's error page or a
// cut reply is worth another try, and the retry policy bounds how many.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace walstream::storage {

// <ListBucketResult> of ListObjectsV2.
struct S3ListPage {
  struct Object {
    std::string name;  // the object's name in the bucket (Key)
    uint64_t size = 0;
    std::string lastModified;  // ISO 8601, e.g. 2026-12-07T10:00:00.000Z
  };
  std::vector<Object> objects;
  std::vector<std::string> commonPrefixes;       // with a delimiter: each ends in it
  std::optional<std::string> continuationToken;  // NextContinuationToken when IsTruncated
};
S3ListPage parseS3ListPage(std::string_view xml);

// <Error><Code>...</Code><Message>...</Message></Error>; nullopt when `xml` is not one (a HEAD
// reply has no body).
struct S3ErrorReply {
  std::string code;
  std::string message;
};
std::optional<S3ErrorReply> parseS3Error(std::string_view xml);

// The UploadId of <InitiateMultipartUploadResult>.
std::string parseS3UploadId(std::string_view xml);

// The keys a <DeleteResult> reports as not deleted, each "KEY: CODE MESSAGE".
std::vector<std::string> parseS3DeleteErrors(std::string_view xml);

// <Delete><Quiet>true</Quiet><Object><Key>...</Key></Object>...</Delete>
std::string s3DeleteRequest(const std::vector<std::string>& names);

// <CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>...</ETag></Part>...
std::string s3CompleteMultipartRequest(const std::vector<std::string>& partETags);

// Seconds since the epoch of an S3 time: ISO 8601 (listings) or RFC 7231 (Last-Modified).
// Zero when `text` is neither.
int64_t s3TimeSeconds(std::string_view text);

}  // namespace walstream::storage
