// A store named on the command line (file:///ABSOLUTE/PATH): a malformed URL is a usage error.
#pragma once

#include <memory>
#include <string>

#include "storage/object_store.h"

namespace walstream::cli {

// Throws UsageError (cli/flags.h) naming the URL and what is wrong with it.
std::unique_ptr<storage::ObjectStore> openStoreArg(const std::string& url);

}  // namespace walstream::cli
