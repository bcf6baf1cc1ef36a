// A store named on the command line (file:///ABSOLUTE/PATH or s3://BUCKET/PREFIX?...), with the
// flags that say what its URL does not: --s3-credentials FILE and --s3-part-size SIZE. A malformed
// URL, a bad flag or S3 credentials that cannot be found are usage errors.
#pragma once

#include <memory>
#include <string>

#include "storage/object_store.h"

namespace walstream::cli {

class Flags;

struct StoreArg {
  std::string url;
  storage::StoreOptions options;

  // Throws StorageError as storage::openObjectStore does.
  std::unique_ptr<storage::ObjectStore> open() const;
};

// Defines --s3-credentials and --s3-part-size.
void defineStoreFlags(Flags& flags);

// The store `url` with the options of those flags, checked by opening it (which does not touch
// the storage). Throws UsageError (cli/flags.h) naming the URL or flag and what is wrong.
StoreArg parseStoreArg(const std::string& url, const Flags& flags);

// The URL of the store for database `name` under a store's URL: URL/NAME, before an s3 URL's
// query.
std::string storeUrlBelow(const std::string& url, const std::string& name);

}  // namespace walstream::cli
