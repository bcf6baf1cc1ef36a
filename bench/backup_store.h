// A directory store (storage/directory_store.h) that a benchmark's primary backs up into: the
// primary's flags for it and what it holds.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace walstream::bench {

// file://DIR
std::string storeUrl(const std::string& storeDir);

// `walstream primary` flags for a continuous backup into `storeDir`, writing WAL objects every
// `syncInterval`.
std::vector<std::string> backupFlags(const std::string& storeDir,
                                     std::chrono::milliseconds syncInterval);

struct StoreContents {
  uint64_t bytes = 0;  // of every object
  size_t snapshots = 0, walObjects = 0;
};
StoreContents storeContents(const std::string& storeDir);

}  // namespace walstream::bench
