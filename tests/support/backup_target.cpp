#include "tests/support/backup_target.h"

namespace walstream::test {

BackupTarget::BackupTarget(Kind kind, const TempDir& dir) : kind_(kind), dir_(dir.path()) {
  if (kind_ == Kind::kS3) s3_ = std::make_unique<S3Server>();
}

std::string BackupTarget::url(const std::string& name) const {
  return s3_ ? s3_->storeUrl(name) : "file://" + dir_ + "/" + name;
}

std::vector<std::string> BackupTarget::storeFlags() const {
  if (!s3_) return {};
  return {"--s3-credentials", s3_->credentialsFile()};
}

std::vector<std::string> BackupTarget::backupFlags(std::vector<std::string> more,
                                                   const std::string& name) const {
  std::vector<std::string> flags = {"--backup", url(name)};
  const std::vector<std::string> store = storeFlags();
  flags.insert(flags.end(), store.begin(), store.end());
  flags.insert(flags.end(), more.begin(), more.end());
  return flags;
}

}  // namespace walstream::test
