// Reads a list of object ranges from a store with several threads, and hands them out in list
// order: a restore downloads ahead while it applies in order.
//
// Memory: jobs are read into one ring of `maxBytesHeld` bytes, mapped once. Jobs start in list
// order and are taken in list order, so each takes the ring's next free bytes and gives them
// back when the consumer moves on: no allocation per job, however many gigabytes go through,
// and the resident memory of a restore stays the ring's size. A job larger than the whole ring
// is read alone into a mapping of its own.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "backup/fetch_buffer.h"
#include "storage/object_store.h"

namespace walstream::backup {

struct FetchJob {
  std::string key;
  uint64_t offset = 0;
  uint64_t length = 0;  // exactly this many bytes are expected; fewer is an error
  // With a decoder: the most the job's decoded bytes take (room for them is reserved in the
  // ring after the fetched bytes).
  uint64_t decodedBytes = 0;
};

// Turns a job's fetched bytes into what next() hands out, on the reader's thread, so that
// decoding (e.g. decompressing snapshot blocks) runs in parallel with the download and with the
// consumer. A fetcher makes one per reader thread, so it may keep state such as a decompression
// context.
class FetchDecoder {
 public:
  virtual ~FetchDecoder() = default;
  // Decodes job `job` into `out` (its decodedBytes) and returns how many bytes it wrote. Throws
  // Error naming what is wrong.
  virtual size_t decode(size_t job, std::span<const char> fetched, std::span<char> out) = 0;
};
using FetchDecoderFactory = std::function<std::unique_ptr<FetchDecoder>()>;

class OrderedFetcher {
 public:
  // Starts `threads` readers (at least 1). Without a decoder factory, next() hands out the
  // fetched bytes as they are. Throws SystemError when the ring cannot be mapped.
  OrderedFetcher(storage::ObjectStore& store, std::vector<FetchJob> jobs, size_t threads,
                 uint64_t maxBytesHeld, FetchDecoderFactory decoders = {});
  ~OrderedFetcher();  // stops the readers; jobs not taken are dropped
  OrderedFetcher(const OrderedFetcher&) = delete;
  OrderedFetcher& operator=(const OrderedFetcher&) = delete;

  // The next job's bytes (decoded, with a decoder), in job order; nullopt after the last. They
  // stay valid until the next call. Rethrows the error of a job that failed (StorageError;
  // Error for a short read naming the key, or the decoder's).
  std::optional<std::span<const char>> next();

 private:
  // Where a started job's bytes go: a range of the ring, or a mapping of its own.
  struct Slot {
    bool inRing = false;
    uint64_t ringOffset = 0;
    uint64_t bytes = 0;  // reserved in the ring
    FetchBuffer alone;   // a job larger than the ring
    std::span<const char> result;
  };

  void read(std::stop_token stop);
  // Reads job `job` into `room` and returns what next() hands out.
  std::span<const char> fetch(size_t job, FetchDecoder* decoder, std::span<char> room);
  uint64_t footprint(size_t job) const { return jobs_[job].length + jobs_[job].decodedBytes; }
  // Where in the ring `bytes` fit after the jobs started and not released, if they do.
  // Requires mu_.
  std::optional<uint64_t> ringRoom(uint64_t bytes) const;

  storage::ObjectStore& store_;
  const std::vector<FetchJob> jobs_;
  const FetchDecoderFactory decoders_;
  FetchBuffer ring_;

  std::mutex mu_;
  std::condition_variable_any changed_;
  size_t nextToStart_ = 0;
  size_t nextToTake_ = 0;
  // Slots of the jobs started and not released, in job order: job `firstSlot_` first. The job
  // last taken is released at the next call of next().
  std::deque<Slot> slots_;
  size_t firstSlot_ = 0;
  bool lastTakenHeld_ = false;  // slots_.front() is the job next() returned last
  std::map<size_t, std::exception_ptr> failed_;
  std::vector<bool> done_;
  std::vector<std::jthread> readers_;  // last: started once the members above exist
};

}  // namespace walstream::backup
