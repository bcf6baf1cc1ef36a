// The store a benchmark's primary backs up into: a directory (file://, storage/directory_store.h)
// or a bucket on a local S3 server (s3_bench_store.h); the primary's flags for it and what it
// holds.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "storage/object_store.h"

namespace walstream::bench {

// A sync interval short enough for a backup to keep up with a writer committing as fast as it
// can: the backup writes at most one WAL object per interval and an object holds one WAL index,
// while such a writer restarts the WAL some 20 times a second. At the default 1 s the backup
// falls behind without bound (and, at the time of writing, crashes the primary once it is more
// than 4096 segments behind: bench/README.md). Its objects are then a few per WAL index.
inline constexpr std::chrono::milliseconds kFlatOutSyncInterval{10};

class BenchBackupStore {
 public:
  virtual ~BenchBackupStore() = default;
  // The URL that `walstream primary --backup` and `walstream restore` take.
  virtual std::string url() const = 0;
  // What else the primary and restore need to reach it (S3 credentials).
  virtual std::vector<std::string> accessFlags() const = 0;
  // The store, for the benchmark to read.
  virtual std::unique_ptr<storage::ObjectStore> open() const = 0;
};

// A directory store (file://DIR); the directory need not exist yet.
class DirectoryBenchStore : public BenchBackupStore {
 public:
  explicit DirectoryBenchStore(std::string dir) : dir_(std::move(dir)) {}
  std::string url() const override;
  std::vector<std::string> accessFlags() const override { return {}; }
  std::unique_ptr<storage::ObjectStore> open() const override;

 private:
  std::string dir_;
};

// file://DIR
std::string storeUrl(const std::string& storeDir);

// `walstream primary` flags for a continuous backup into `store` (`storeDir`: a directory
// store), writing WAL objects every `syncInterval`.
std::vector<std::string> backupFlags(const BenchBackupStore& store,
                                     std::chrono::milliseconds syncInterval);
std::vector<std::string> backupFlags(const std::string& storeDir,
                                     std::chrono::milliseconds syncInterval);

struct StoreContents {
  uint64_t bytes = 0;  // of every object
  size_t snapshots = 0, walObjects = 0;
};
StoreContents storeContents(storage::ObjectStore& store);
StoreContents storeContents(const std::string& storeDir);

}  // namespace walstream::bench
