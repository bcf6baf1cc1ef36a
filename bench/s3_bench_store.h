// A bucket on a local S3 server that a benchmark's primary backs up into: s3rver
// (tests/support/s3rver_process.h, installed by `make deps`) started on 127.0.0.1 on an
// ephemeral port, its data (objects as files) in a directory the scenario owns; the destructor
// stops it.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "bench/backup_store.h"
#include "tests/support/s3rver_process.h"

namespace walstream::bench {

class S3BenchStore : public BenchBackupStore {
 public:
  // Starts s3rver with its data and credentials file in `dir` (which must exist).
  // `logRequests`: it logs a line per request, for requestCount().
  S3BenchStore(const std::string& dir, bool logRequests);

  std::string url() const override;
  std::vector<std::string> accessFlags() const override;
  std::unique_ptr<storage::ObjectStore> open() const override;

  // http://127.0.0.1:PORT/BUCKET/PREFIX/KEY: the object `key` of the store, for plain HTTP.
  std::string objectHttpUrl(const std::string& key) const;
  // curl's `--aws-sigv4` and `--user` values for the server.
  std::string sigv4() const;
  std::string user() const;
  // Requests of this method (e.g. "PUT") the server answered so far; needs logRequests.
  size_t requestCount(const std::string& method) const;
  pid_t serverPid() const { return server_.pid(); }

 private:
  const std::string credentialsFile_;
  test::S3rverProcess server_;
};

}  // namespace walstream::bench
