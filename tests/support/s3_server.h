// A real S3 server for tests: s3rver (s3rver_process.h) listening on 127.0.0.1 on an ephemeral
// port, its data in a temporary directory, with one bucket. The destructor kills and reaps it.
// s3rver accepts the key pair S3RVER/S3RVER but does not check Signature V4 signatures: a
// wrong secret goes unnoticed.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "tests/support/s3rver_process.h"
#include "tests/support/temp_dir.h"

namespace walstream::test {

class S3Server {
 public:
  static constexpr const char* kAccessKeyId = S3rverProcess::kAccessKeyId;
  static constexpr const char* kSecretAccessKey = S3rverProcess::kSecretAccessKey;

  // Fails the test (doctest FAIL) saying to run `make deps` when s3rver is not installed.
  explicit S3Server(std::string bucket = "walstream-test");
  ~S3Server();
  S3Server(const S3Server&) = delete;
  S3Server& operator=(const S3Server&) = delete;

  const std::string& bucket() const { return bucket_; }
  uint16_t port() const { return port_; }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // s3://BUCKET/PREFIX?endpoint=...&region=us-east-1&force-path-style=true (`endpoint` replaces
  // the server's own, e.g. a proxy's).
  std::string storeUrl(const std::string& prefix, const std::string& endpoint = {}) const;
  // A credentials file ([default], as ~/.aws/credentials) with the server's keys.
  const std::string& credentialsFile() const { return credentialsFile_; }
  // The server's files: BUCKET/KEY... for objects, BUCKET/.../uploads for multipart uploads.
  const std::string& dataDir() const { return dataDir_; }

  // Kills the server (SIGKILL) and reaps it; its data stays.
  void kill();
  // Starts it again on the same port with the same data.
  void restart();

 private:
  void start(uint16_t port);

  const std::string bucket_;
  TempDir dir_;
  std::string dataDir_;
  std::string credentialsFile_;
  uint16_t port_ = 0;
  int starts_ = 0;
  std::unique_ptr<S3rverProcess> process_;
};

}  // namespace walstream::test
