#include "bench/s3_bench_store.h"

#include "core/file_util.h"

namespace walstream::bench {

namespace {

constexpr const char* kBucket = "walstream-bench";
constexpr const char* kPrefix = "backup";

test::S3rverProcess::Options serverOptions(const std::string& dir, bool logRequests) {
  makeDirs(dir + "/s3rver-data");
  test::S3rverProcess::Options options;
  options.dataDir = dir + "/s3rver-data";
  options.bucket = kBucket;
  options.logPrefix = dir + "/s3rver";
  options.logRequests = logRequests;
  return options;
}

}  // namespace

S3BenchStore::S3BenchStore(const std::string& dir, bool logRequests)
    : credentialsFile_(dir + "/s3-credentials"), server_(serverOptions(dir, logRequests)) {
  test::writeS3rverCredentials(credentialsFile_);
}

std::string S3BenchStore::url() const {
  return test::s3rverStoreUrl(kBucket, kPrefix,
                              "http://127.0.0.1:" + std::to_string(server_.port()));
}

std::vector<std::string> S3BenchStore::accessFlags() const {
  return {"--s3-credentials", credentialsFile_};
}

std::unique_ptr<storage::ObjectStore> S3BenchStore::open() const {
  storage::StoreOptions options;
  options.s3CredentialsFile = credentialsFile_;
  return storage::openObjectStore(url(), options);
}

std::string S3BenchStore::objectHttpUrl(const std::string& key) const {
  return "http://127.0.0.1:" + std::to_string(server_.port()) + "/" + kBucket + "/" + kPrefix +
         "/" + key;
}

std::string S3BenchStore::sigv4() const {
  return std::string("aws:amz:") + test::S3rverProcess::kRegion + ":s3";
}

std::string S3BenchStore::user() const {
  return std::string(test::S3rverProcess::kAccessKeyId) + ":" +
         test::S3rverProcess::kSecretAccessKey;
}

size_t S3BenchStore::requestCount(const std::string& method) const {
  return server_.requestCount(method);
}

}  // namespace walstream::bench
