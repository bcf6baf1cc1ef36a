// The WAL running checksum at a database's latest position, for heartbeat records. Every stream
// with heartbeats asks for the same position, so the segment behind it is read once.
#pragma once

#include <mutex>
#include <optional>
#include <utility>

#include "core/pos.h"
#include "core/wal_format.h"
#include "server/capture/segment_tail.h"
#include "server/capture/shadow_wal.h"

namespace walstream::server {

class ChecksumCache {
 public:
  // Blocking disk I/O on a miss. Zero when unknown (offset 0, or no stored segment ends at pos).
  Checksum at(const ShadowWal& shadow, const Pos& pos, uint32_t pageSize) {
    {
      std::lock_guard lock(mu_);
      if (last_ && last_->first == pos) return last_->second;
    }
    Checksum value = checksumAt(shadow, pos, pageSize).value_or(Checksum{});
    std::lock_guard lock(mu_);
    last_ = {pos, value};
    return value;
  }

 private:
  std::mutex mu_;
  std::optional<std::pair<Pos, Checksum>> last_;
};

}  // namespace walstream::server
