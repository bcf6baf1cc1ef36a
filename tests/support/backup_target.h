// Where an integration test's backups go: a directory (file://) or a bucket of a test S3 server
// (s3://, s3_server.h), so that one test body checks both kinds of store. Test templates take one
// of the tag types below:
//
//   TEST_CASE_TEMPLATE("...", Store, DirectoryBackups, S3Backups) {
//     BackupTarget target(Store::kKind, dir);
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/support/s3_server.h"
#include "tests/support/temp_dir.h"

namespace walstream::test {

class BackupTarget {
 public:
  enum class Kind { kDirectory, kS3 };

  // A directory under `dir`, or a fresh S3 server (a failed test when s3rver is not installed).
  BackupTarget(Kind kind, const TempDir& dir);

  Kind kind() const { return kind_; }
  // The store named `name`: file://DIR/NAME or s3://BUCKET/NAME?endpoint=...
  std::string url(const std::string& name = "backup") const;
  // What a walstream command that opens the store needs besides its URL.
  std::vector<std::string> storeFlags() const;
  // --backup URL, the store's flags and `more`, for a primary.
  std::vector<std::string> backupFlags(std::vector<std::string> more = {},
                                       const std::string& name = "backup") const;
  // The S3 server; null for a directory.
  S3Server* s3() const { return s3_.get(); }

 private:
  const Kind kind_;
  const std::string dir_;
  std::unique_ptr<S3Server> s3_;
};

struct DirectoryBackups {
  static constexpr BackupTarget::Kind kKind = BackupTarget::Kind::kDirectory;
};
struct S3Backups {
  static constexpr BackupTarget::Kind kKind = BackupTarget::Kind::kS3;
};

}  // namespace walstream::test
