#include "cli/store_arg.h"

#include "cli/flags.h"

namespace walstream::cli {

std::unique_ptr<storage::ObjectStore> openStoreArg(const std::string& url) {
  try {
    return storage::openObjectStore(url);
  } catch (const storage::StorageError& e) {
    throw UsageError(e.what());
  }
}

}  // namespace walstream::cli
