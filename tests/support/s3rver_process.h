// s3rver (installed by `make deps` into .deps/s3rver, pinned by tests/s3rver/package-lock.json)
// run under node as a child process on 127.0.0.1, with one bucket and its data in a directory
// the caller owns. No test framework here: the tests' S3 server (s3_server.h) and the
// benchmarks (bench/s3_bench_store.h) both start it through this. The destructor kills
// (SIGKILL) and reaps it.
//
// s3rver accepts the key pair S3RVER/S3RVER and refuses unknown access key ids
// (InvalidAccessKeyId), but does not check Signature V4 signatures. It runs with
// --openssl-legacy-provider, without which its continuation tokens (DES) make any listing past
// 1,000 objects fail with a 500 under OpenSSL 3.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "tests/support/process.h"

namespace walstream::test {

// Why s3rver cannot be started (not installed: "run `make deps`..."), or "" when it can.
std::string s3rverInstallProblem();

// s3://BUCKET/PREFIX?endpoint=ENDPOINT&region=us-east-1&force-path-style=true (no "/PREFIX"
// when it is empty).
std::string s3rverStoreUrl(const std::string& bucket, const std::string& prefix,
                           const std::string& endpoint);
// Writes a credentials file ([default], as ~/.aws/credentials) with s3rver's keys to `path`.
void writeS3rverCredentials(const std::string& path);

class S3rverProcess {
 public:
  static constexpr const char* kAccessKeyId = "S3RVER";
  static constexpr const char* kSecretAccessKey = "S3RVER";
  static constexpr const char* kRegion = "us-east-1";

  struct Options {
    std::string dataDir;  // must exist
    std::string bucket;
    uint16_t port = 0;  // 0: an ephemeral one
    // Its stdout and stderr: <logPrefix>.out and <logPrefix>.err.
    std::string logPrefix;
    std::chrono::milliseconds startTimeout{20'000};
    // Logs a line per answered request to stdout (for requestCount).
    bool logRequests = false;
  };

  // Starts it and waits (bounded) until it listens. Throws walstream::Error saying why when it
  // is not installed or does not start.
  explicit S3rverProcess(const Options& options);
  ~S3rverProcess();
  S3rverProcess(const S3rverProcess&) = delete;
  S3rverProcess& operator=(const S3rverProcess&) = delete;

  uint16_t port() const { return port_; }
  pid_t pid() const { return process_->pid(); }
  // With logRequests: how many requests of this method (e.g. "PUT") it has answered so far.
  size_t requestCount(const std::string& method) const;
  // Kills it (SIGKILL) and reaps it; its data stays.
  void kill();

 private:
  std::unique_ptr<Process> process_;
  uint16_t port_ = 0;
};

}  // namespace walstream::test
