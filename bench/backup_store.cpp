#include "bench/backup_store.h"

#include "backup/layout.h"
#include "storage/directory_store.h"

namespace walstream::bench {

std::string storeUrl(const std::string& storeDir) {
  return "file://" + storeDir;
}

std::vector<std::string> backupFlags(const std::string& storeDir,
                                     std::chrono::milliseconds syncInterval) {
  return {"--backup", storeUrl(storeDir), "--backup-sync-interval",
          std::to_string(syncInterval.count()) + "ms"};
}

StoreContents storeContents(const std::string& storeDir) {
  StoreContents out;
  for (const auto& object : storage::DirectoryStore(storeDir).list("")) {
    out.bytes += object.size;
    if (backup::parseSnapshotKey(object.key)) ++out.snapshots;
    if (backup::parseWalObjectKey(object.key)) ++out.walObjects;
  }
  return out;
}

}  // namespace walstream::bench
