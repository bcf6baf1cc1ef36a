#include "bench/backup_store.h"

#include "backup/layout.h"
#include "storage/directory_store.h"

namespace walstream::bench {

std::string DirectoryBenchStore::url() const {
  return storeUrl(dir_);
}

std::unique_ptr<storage::ObjectStore> DirectoryBenchStore::open() const {
  return std::make_unique<storage::DirectoryStore>(dir_);
}

std::string storeUrl(const std::string& storeDir) {
  return "file://" + storeDir;
}

std::vector<std::string> backupFlags(const BenchBackupStore& store,
                                     std::chrono::milliseconds syncInterval) {
  std::vector<std::string> flags{"--backup", store.url(), "--backup-sync-interval",
                                 std::to_string(syncInterval.count()) + "ms"};
  for (std::string& flag : store.accessFlags()) flags.push_back(std::move(flag));
  return flags;
}

std::vector<std::string> backupFlags(const std::string& storeDir,
                                     std::chrono::milliseconds syncInterval) {
  return backupFlags(DirectoryBenchStore(storeDir), syncInterval);
}

StoreContents storeContents(storage::ObjectStore& store) {
  StoreContents out;
  for (const auto& object : store.list("")) {
    out.bytes += object.size;
    if (backup::parseSnapshotKey(object.key)) ++out.snapshots;
    if (backup::parseWalObjectKey(object.key)) ++out.walObjects;
  }
  return out;
}

StoreContents storeContents(const std::string& storeDir) {
  storage::DirectoryStore store(storeDir);
  return storeContents(store);
}

}  // namespace walstream::bench
