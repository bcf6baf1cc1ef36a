// A directory store (storage/directory_store.h) that a benchmark's primary backs up into: the
// primary's flags for it and what it holds.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace walstream::bench {

// A sync interval short enough for a backup to keep up with a writer committing as fast as it
// can: the backup writes at most one WAL object per interval and an object holds one WAL index,
// while such a writer restarts the WAL some 20 times a second. At the default 1 s the backup
// falls behind without bound (and, at the time of writing, crashes the primary once it is more
// than 4096 segments behind: bench/README.md). Its objects are then a few per WAL index.
inline constexpr std::chrono::milliseconds kFlatOutSyncInterval{10};

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
