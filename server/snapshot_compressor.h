// The opt-in compressed snapshot (compress=1), compressed as it is sent.
//
// The record header must state the payload size before the first byte, so the image is read
// twice: once to learn the size of its LZ4 frame (measure(): compressing into a scratch buffer
// that is thrown away), then again from the start, compressing each chunk just before it is
// sent. The first pass is a whole-database read and compression before the client gets a byte:
// the session runs it under an admission queue of its own (ServerContext::compressions) and
// stops it as soon as its client has gone. Both
// passes make the same calls with the same input chunks and preferences, and LZ4 is
// deterministic, so the second pass produces exactly the frame the first one measured; should
// it not, reading fails and the stream is cut (the client sees a truncated record, never a
// wrong one). Memory: one input chunk, its compressed bound and LZ4's block buffer, whatever
// the database size; no disk. The snapshot's read transaction is held until the image is sent,
// as for an uncompressed snapshot.
#pragma once

#include <lz4frame.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "server/capture/snapshot.h"

namespace walstream::server {

class SnapshotCompressor {
 public:
  // Chunks of `chunkBytes` (rounded down to whole pages, at least one) are read and compressed
  // at a time. Call measure() before anything else.
  SnapshotCompressor(std::unique_ptr<SnapshotReader> snapshot, size_t chunkBytes);
  ~SnapshotCompressor();
  SnapshotCompressor(const SnapshotCompressor&) = delete;
  SnapshotCompressor& operator=(const SnapshotCompressor&) = delete;

  // Measures the frame (blocking: reads and compresses the whole image), then rewinds. Asks
  // `wanted` before each chunk and returns false, leaving the compressor unusable, once it says
  // no (the client has gone); true when measured. Throws Error on I/O failure or when the image
  // ends before its announced size.
  bool measure(const std::function<bool()>& wanted);

  uint64_t size() const { return size_; }  // bytes of the whole LZ4 frame, once measured
  Pos position() const { return snapshot_->position(); }
  std::optional<WalChainState> chain() const { return snapshot_->chain(); }

  // Replaces `out` with the next bytes of the frame (at most one compressed chunk, with the
  // frame's header or end mark); empty once size() bytes were returned. Blocking; throws Error
  // when the frame comes out differently from the measured one.
  void next(std::string& out);

  // The snapshot, for what follows it (its lease keeps the shadow WAL's index).
  std::unique_ptr<SnapshotReader> release() { return std::move(snapshot_); }

 private:
  // Appends the next piece of the frame to `out`; false once the frame is complete.
  bool step(std::string& out);
  void begin();

  std::unique_ptr<SnapshotReader> snapshot_;
  const size_t chunkBytes_;
  LZ4F_cctx* ctx_ = nullptr;
  LZ4F_preferences_t prefs_{};
  std::string input_;  // one chunk of the image
  bool begun_ = false;
  bool ended_ = false;
  uint64_t imageRead_ = 0;
  uint64_t size_ = 0;
  uint64_t produced_ = 0;  // bytes returned by next()
};

}  // namespace walstream::server
