// Reads a list of object ranges from a store with several threads, and hands them out in list
// order: a restore downloads ahead while it applies in order. Bytes held (being read, or read
// and not yet taken) are bounded, so memory stays flat however large the backup.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "storage/object_store.h"

namespace walstream::backup {

struct FetchJob {
  std::string key;
  uint64_t offset = 0;
  uint64_t length = 0;  // exactly this many bytes are expected; fewer is an error
};

class OrderedFetcher {
 public:
  // Starts `threads` readers (at least 1). A job larger than `maxBytesHeld` is read alone.
  OrderedFetcher(storage::ObjectStore& store, std::vector<FetchJob> jobs, size_t threads,
                 uint64_t maxBytesHeld);
  ~OrderedFetcher();  // stops the readers; jobs not taken are dropped
  OrderedFetcher(const OrderedFetcher&) = delete;
  OrderedFetcher& operator=(const OrderedFetcher&) = delete;

  // The next job's bytes, in job order; nullopt after the last. Rethrows the error of a job
  // that failed (StorageError, or Error for a short read naming the key).
  std::optional<std::string> next();
  // Bytes of jobs taken so far.
  uint64_t bytesTaken() const;

 private:
  void read(std::stop_token stop);

  storage::ObjectStore& store_;
  const std::vector<FetchJob> jobs_;
  const uint64_t maxBytesHeld_;

  mutable std::mutex mu_;
  std::condition_variable_any changed_;
  size_t nextToStart_ = 0;
  size_t nextToTake_ = 0;
  uint64_t bytesHeld_ = 0;
  uint64_t bytesTaken_ = 0;
  std::map<size_t, std::string> done_;
  std::map<size_t, std::exception_ptr> failed_;
  std::vector<std::jthread> readers_;  // last: started once the members above exist
};

}  // namespace walstream::backup
