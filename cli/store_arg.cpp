#include "cli/store_arg.h"

#include <algorithm>

#include "cli/flags.h"

namespace walstream::cli {

std::unique_ptr<storage::ObjectStore> StoreArg::open() const {
  return storage::openObjectStore(url, options);
}

void defineStoreFlags(Flags& flags) {
  flags.define("s3-credentials", "FILE", "",
               "for s3:// stores: the credentials file ([default] with aws_access_key_id and "
               "aws_secret_access_key, as ~/.aws/credentials); without it, AWS_ACCESS_KEY_ID, "
               "AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN");
  flags.define("s3-part-size", "SIZE", "16MiB",
               "for s3:// stores: objects larger than this go up in parts of this size (at "
               "least 5MiB), one part in memory at a time");
}

StoreArg parseStoreArg(const std::string& url, const Flags& flags) {
  StoreArg arg{url, {}};
  arg.options.s3CredentialsFile = flags.str("s3-credentials");
  arg.options.s3PartSize = flags.bytes("s3-part-size");
  if (arg.options.s3PartSize < storage::kMinS3PartSize) {
    throw UsageError("--s3-part-size must be at least 5MiB (S3's smallest part)");
  }
  try {
    arg.open();
  } catch (const storage::StorageError& e) {
    throw UsageError(e.what());
  }
  return arg;
}

std::string storeUrlBelow(const std::string& url, const std::string& name) {
  const size_t query = std::min(url.find('?'), url.size());
  std::string base = url.substr(0, query);
  while (!base.empty() && base.back() == '/') base.pop_back();
  return base + "/" + name + url.substr(query);
}

}  // namespace walstream::cli
