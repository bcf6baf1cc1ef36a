#include "tests/support/s3_server.h"

#include <doctest/doctest.h>

#include "core/file_util.h"
#include "tests/support/time_scale.h"

namespace walstream::test {

S3Server::S3Server(std::string bucket) : bucket_(std::move(bucket)) {
  if (const std::string problem = s3rverInstallProblem(); !problem.empty()) FAIL(problem);
  dataDir_ = dir_.file("data");
  makeDirs(dataDir_);
  credentialsFile_ = dir_.file("credentials");
  writeS3rverCredentials(credentialsFile_);
  start(0);
}

S3Server::~S3Server() = default;  // S3rverProcess kills and reaps

std::string S3Server::storeUrl(const std::string& prefix, const std::string& endpoint) const {
  return s3rverStoreUrl(bucket_, prefix, endpoint.empty() ? this->endpoint() : endpoint);
}

void S3Server::kill() {
  if (!process_) return;
  process_->kill();
  process_.reset();
}

void S3Server::restart() {
  kill();
  start(port_);
}

void S3Server::start(uint16_t port) {
  S3rverProcess::Options options;
  options.dataDir = dataDir_;
  options.bucket = bucket_;
  options.port = port;
  options.logPrefix = dir_.file("s3rver-" + std::to_string(++starts_));
  options.startTimeout = scaled(std::chrono::seconds(20));
  try {
    process_ = std::make_unique<S3rverProcess>(options);
  } catch (const std::exception& e) {
    FAIL(e.what());
  }
  port_ = process_->port();
}

}  // namespace walstream::test
