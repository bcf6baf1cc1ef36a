#include "backup/ordered_fetcher.h"

#include <algorithm>

namespace walstream::backup {

OrderedFetcher::OrderedFetcher(storage::ObjectStore& store, std::vector<FetchJob> jobs,
                               size_t threads, uint64_t maxBytesHeld, FetchDecoderFactory decoders)
    : store_(store),
      jobs_(std::move(jobs)),
      decoders_(std::move(decoders)),
      done_(jobs_.size(), false) {
  uint64_t total = 0;
  for (size_t j = 0; j < jobs_.size(); ++j) total += footprint(j);
  // No larger than all jobs together: a small restore maps little.
  ring_.resize(std::min(maxBytesHeld, total));
  const size_t n = std::clamp<size_t>(threads, 1, std::max<size_t>(jobs_.size(), 1));
  for (size_t i = 0; i < n; ++i) {
    readers_.emplace_back([this](std::stop_token stop) { read(stop); });
  }
}

OrderedFetcher::~OrderedFetcher() {
  for (auto& r : readers_) r.request_stop();
  changed_.notify_all();
  readers_.clear();  // joins
}

std::optional<uint64_t> OrderedFetcher::ringRoom(uint64_t bytes) const {
  const Slot* first = nullptr;
  const Slot* last = nullptr;
  for (const Slot& s : slots_) {
    if (!s.inRing) continue;
    if (!first) first = &s;
    last = &s;
  }
  const uint64_t capacity = ring_.size();
  if (!first) return bytes <= capacity ? std::optional<uint64_t>(0) : std::nullopt;
  const uint64_t head = last->ringOffset + last->bytes;
  const uint64_t tail = first->ringOffset;
  if (last->ringOffset >= first->ringOffset) {  // one run [tail, head): room after it, or before
    if (capacity - head >= bytes) return head;
    if (tail >= bytes) return 0;
    return std::nullopt;
  }
  if (tail - head >= bytes) return head;  // wrapped: the room is between the two runs
  return std::nullopt;
}

std::span<const char> OrderedFetcher::fetch(size_t job, FetchDecoder* decoder,
                                            std::span<char> room) {
  const FetchJob& j = jobs_[job];
  const std::span<char> fetched = room.first(j.length);
  const uint64_t got = store_.readInto(j.key, j.offset, fetched);
  if (got != j.length) {
    throw Error(store_.url() + "/" + j.key + ": truncated: " + std::to_string(got) +
                " bytes at offset " + std::to_string(j.offset) + ", want " +
                std::to_string(j.length));
  }
  if (!decoder) return fetched;
  const std::span<char> out = room.subspan(j.length, j.decodedBytes);
  return out.first(decoder->decode(job, fetched, out));
}

void OrderedFetcher::read(std::stop_token stop) {
  std::unique_ptr<FetchDecoder> decoder;
  for (;;) {
    size_t job = 0;
    std::span<char> room;
    FetchBuffer alone;
    {
      std::unique_lock lock(mu_);
      // Jobs start in order, each when the ring has room for it; one larger than the ring when
      // nothing else is held.
      std::optional<uint64_t> at;
      const bool started = changed_.wait(lock, stop, [&] {
        if (nextToStart_ >= jobs_.size()) return false;
        const uint64_t bytes = footprint(nextToStart_);
        if (bytes > ring_.size()) return slots_.empty();
        at = ringRoom(bytes);
        return at.has_value();
      });
      if (!started) return;
      job = nextToStart_++;
      Slot& slot = slots_.emplace_back();
      if (at) {
        slot.inRing = true;
        slot.ringOffset = *at;
        slot.bytes = footprint(job);
        room = ring_.bytes().subspan(*at, slot.bytes);
      }
    }
    std::exception_ptr error;
    std::span<const char> result;
    try {
      if (room.data() == nullptr && footprint(job) > 0) room = alone.resize(footprint(job));
      if (decoders_ && !decoder) decoder = decoders_();
      result = fetch(job, decoder.get(), room);
    } catch (...) {
      error = std::current_exception();
    }
    {
      std::lock_guard lock(mu_);
      Slot& slot = slots_[job - firstSlot_];
      slot.alone = std::move(alone);
      slot.result = result;
      if (error) failed_.emplace(job, std::move(error));
      done_[job] = true;
    }
    changed_.notify_all();
  }
}

std::optional<std::span<const char>> OrderedFetcher::next() {
  std::unique_lock lock(mu_);
  if (lastTakenHeld_) {  // the consumer is done with the bytes handed out last
    slots_.pop_front();
    ++firstSlot_;
    lastTakenHeld_ = false;
    changed_.notify_all();
  }
  if (nextToTake_ >= jobs_.size()) return std::nullopt;
  const size_t job = nextToTake_;
  changed_.wait(lock, [&] { return done_[job]; });
  if (auto f = failed_.find(job); f != failed_.end()) {
    const std::exception_ptr error = f->second;  // kept: a later call fails the same way
    lock.unlock();
    std::rethrow_exception(error);
  }
  ++nextToTake_;
  lastTakenHeld_ = true;
  return slots_.front().result;
}

}  // namespace walstream::backup
