// A snapshot reader that holds one of --max-snapshots places until it is destroyed.
//
// Each snapshot being sent costs what the byte budget does not see: a SQLite read transaction
// (two descriptors beside the connection's socket) and the image's overlay of the current WAL
// index (up to max-checkpoint-pages pages in memory, core/database_snapshot.cpp). The place
// travels with the reader (to the worker that reads it, into the compressor) and is given back
// only when the reader, and so its transaction and overlay, are gone.
#pragma once

#include <memory>
#include <utility>

#include "proto/connection_count.h"
#include "server/capture/snapshot.h"

namespace walstream::server {

// Snapshots being sent, counted against --max-snapshots as connections are against
// --max-connections.
using SnapshotCount = proto::ConnectionCount;

class CountedSnapshotReader : public SnapshotReader {
 public:
  CountedSnapshotReader(std::unique_ptr<SnapshotReader> inner, SnapshotCount::Slot slot)
      : slot_(std::move(slot)), inner_(std::move(inner)) {}

  Pos position() const override { return inner_->position(); }
  uint32_t pageSize() const override { return inner_->pageSize(); }
  uint64_t size() const override { return inner_->size(); }
  std::optional<WalChainState> chain() const override { return inner_->chain(); }
  size_t readInto(std::span<char> out) override { return inner_->readInto(out); }
  void rewind() override { inner_->rewind(); }

 private:
  // Declared first, so destroyed last: after the reader.
  SnapshotCount::Slot slot_;
  std::unique_ptr<SnapshotReader> inner_;
};

}  // namespace walstream::server
