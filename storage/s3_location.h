// Where an S3 store's objects live, from its URL (object_store.h openObjectStore):
//
//   s3://BUCKET[/PREFIX][?endpoint=URL&region=REGION&force-path-style=true]
//
// Every object's name in the bucket is PREFIX/KEY (just KEY without a prefix). Without an
// endpoint the store talks to AWS (https://s3.REGION.amazonaws.com); region defaults to
// us-east-1. Virtual-hosted style (BUCKET.HOST) is the default for AWS; with an endpoint of its
// own, or force-path-style=true, requests name the bucket in the path (ENDPOINT/BUCKET/KEY), as
// MinIO, Ceph RGW and most local servers want. Credentials never appear in the URL: an endpoint
// with a user name or password is refused (credentials: s3_credentials.h).
#pragma once

#include <string>
#include <string_view>

namespace walstream::storage {

struct S3Location {
  std::string bucket;
  std::string prefix;    // without leading or trailing '/'; empty for the bucket's root
  std::string endpoint;  // scheme://host[:port], without a trailing '/'
  std::string region;
  bool pathStyle = false;

  // The URL of the bucket's root, ending in '/': ENDPOINT/BUCKET/ or SCHEME://BUCKET.HOST/.
  std::string bucketUrl() const;
  // The object name in the bucket of a store key (or a listing prefix): PREFIX/KEY.
  std::string objectName(std::string_view key) const;
};

// Parses `url` (it starts with "s3://"). Throws StorageError(kPermanent) "bad store URL '...':
// <what is wrong>" for a missing bucket, an unknown or repeated parameter, a malformed endpoint.
S3Location parseS3Url(const std::string& url);

// `text` percent-encoded as S3's canonical form wants it: every byte but A-Z a-z 0-9 - _ . ~
// (and '/' when `keepSlash`) as %XX.
std::string s3UriEncode(std::string_view text, bool keepSlash);

}  // namespace walstream::storage
