#include "bench/backup_object_watcher.h"

#include <algorithm>

#include "backup/catalog.h"
#include "backup/layout.h"
#include "core/error.h"
#include "core/lz4_codec.h"
#include "core/wal_format.h"

namespace walstream::bench {

BackupObjectWatcher::BackupObjectWatcher(std::unique_ptr<storage::ObjectStore> store,
                                         uint64_t generation, std::chrono::microseconds pause)
    : store_(std::move(store)), generation_(generation), pause_(pause) {
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

BackupObjectWatcher::~BackupObjectWatcher() {
  thread_.request_stop();
}

std::vector<SeenWalObject> BackupObjectWatcher::stop() {
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
  if (error_.empty()) {
    try {
      sweep();  // the last one, after every object the caller waited for was published
    } catch (const std::exception& e) {
      error_ = e.what();
    }
  }
  if (!error_.empty()) throw Error("watching the backup store: " + error_);
  return seen_;
}

double BackupObjectWatcher::meanSweepMicros() const {
  return sweeps_ > 0 ? sweepMicros_ / static_cast<double>(sweeps_) : 0;
}

void BackupObjectWatcher::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    try {
      sweep();
    } catch (const std::exception& e) {
      error_ = e.what();
      return;
    }
    std::this_thread::sleep_for(pause_);  // the polling period, not a wait for a condition
  }
}

void BackupObjectWatcher::sweep() {
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  // Objects are written in position order: only the newest index directory seen so far and
  // any after it can hold new ones.
  std::vector<std::pair<Pos, storage::ObjectInfo>> fresh;
  for (const std::string& name : store_->listDirectories(backup::walPrefix(generation_))) {
    const std::string prefix = backup::walPrefix(generation_) + name + "/";
    for (storage::ObjectInfo& info : store_->list(prefix)) {
      const auto pos = backup::parseWalObjectKey(info.key);
      if (!pos || pos->generation != generation_) continue;
      if (newest_ && !sameGenerationBefore(*newest_, *pos)) continue;
      fresh.emplace_back(*pos, std::move(info));
    }
  }
  // Each object was there by now: the time errs late, never early.
  const auto listedAt = Clock::now();
  sweepMicros_ += std::chrono::duration<double, std::micro>(listedAt - start).count();
  ++sweeps_;
  std::sort(fresh.begin(), fresh.end(),
            [](const auto& a, const auto& b) { return sameGenerationBefore(a.first, b.first); });
  for (const auto& [pos, info] : fresh) {
    std::optional<SeenWalObject> seen = describe(info, pos, listedAt);
    if (!seen) break;  // it and the ones after it are listed again by the next sweep
    seen_.push_back(std::move(*seen));
    newest_ = pos;
  }
}

std::optional<SeenWalObject> BackupObjectWatcher::describe(
    const storage::ObjectInfo& info, const Pos& start,
    std::chrono::steady_clock::time_point listedAt) {
  // The header frame is a skippable LZ4 frame: magic, payload size (little-endian), payload.
  constexpr uint64_t kFrameHead = 8;
  const std::string head = store_->read(info.key, 0, kFrameHead);
  if (head.size() < kFrameHead) return std::nullopt;
  const auto* p = reinterpret_cast<const uint8_t*>(head.data());
  const uint64_t frameBytes = kFrameHead + (uint64_t{p[4]} | uint64_t{p[5]} << 8 |
                                            uint64_t{p[6]} << 16 | uint64_t{p[7]} << 24);
  if (info.size < frameBytes) return std::nullopt;
  SeenWalObject out;
  out.header = backup::readWalObjectHeader(*store_, {info.key, start, info.size, info.modified});
  out.listedAt = listedAt;
  uint64_t segmentBytes = 0;
  for (const auto& s : out.header.segments) segmentBytes += s.size;
  if (info.size < frameBytes + segmentBytes) return std::nullopt;
  if (start.offset == 0) {
    // The segments follow the header frame and fill the rest of the object.
    const auto& first = out.header.segments.front();
    const std::string frame = store_->read(info.key, info.size - segmentBytes, first.size);
    const std::string wal = lz4Decompress(asBytes(frame), first.walBytes);
    const auto walHeader =
        WalHeader::decode(asBytes(wal).first(std::min(wal.size(), kWalHeaderSize)));
    if (!walHeader) throw Error(info.key + " does not begin with a valid WAL header");
    out.walSalts = std::make_pair(walHeader->salt1, walHeader->salt2);
  }
  return out;
}

}  // namespace walstream::bench
