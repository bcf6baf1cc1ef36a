#include "server/snapshot_compressor.h"

#include <algorithm>

#include "core/error.h"

namespace walstream::server {

namespace {

void check(size_t r, const char* what) {
  if (LZ4F_isError(r)) throw Error(std::string("lz4 ") + what + " failed: " + LZ4F_getErrorName(r));
}

}  // namespace

SnapshotCompressor::SnapshotCompressor(std::unique_ptr<SnapshotReader> snapshot, size_t chunkBytes)
    : snapshot_(std::move(snapshot)),
      chunkBytes_(std::max<size_t>(chunkBytes / snapshot_->pageSize(), 1) * snapshot_->pageSize()) {
  check(LZ4F_createCompressionContext(&ctx_, LZ4F_VERSION), "context creation");
  prefs_.frameInfo.contentSize = snapshot_->size();  // lets the client size its output up front
  // Small blocks, flushed at every call: LZ4's own buffer is one block and the 64 KiB window
  // of linked blocks, whatever the chunk size.
  prefs_.frameInfo.blockSizeID = LZ4F_max64KB;
  prefs_.autoFlush = 1;
  input_.resize(chunkBytes_);
}

bool SnapshotCompressor::measure(const std::function<bool()>& wanted) {
  std::string scratch;
  begin();
  size_ = 0;
  for (;;) {
    if (!wanted()) return false;
    scratch.clear();
    const bool more = step(scratch);
    size_ += scratch.size();
    if (!more) break;
  }
  snapshot_->rewind();
  begin();
  return true;
}

SnapshotCompressor::~SnapshotCompressor() {
  LZ4F_freeCompressionContext(ctx_);
}

void SnapshotCompressor::begin() {
  begun_ = false;
  ended_ = false;
  imageRead_ = 0;
}

bool SnapshotCompressor::step(std::string& out) {
  if (ended_) return false;
  auto append = [&](size_t bound, auto&& compress) {
    const size_t at = out.size();
    out.resize(at + bound);
    const size_t n = compress(out.data() + at, bound);
    out.resize(at + n);
  };
  if (!begun_) {
    begun_ = true;
    append(LZ4F_HEADER_SIZE_MAX, [&](char* dst, size_t cap) {
      const size_t n = LZ4F_compressBegin(ctx_, dst, cap, &prefs_);
      check(n, "frame start");
      return n;
    });
  }
  input_.resize(chunkBytes_);
  const size_t got = snapshot_->readInto(input_);
  imageRead_ += got;
  if (got > 0) {
    append(LZ4F_compressBound(got, &prefs_), [&](char* dst, size_t cap) {
      const size_t n = LZ4F_compressUpdate(ctx_, dst, cap, input_.data(), got, nullptr);
      check(n, "compression");
      return n;
    });
    return true;
  }
  if (imageRead_ != snapshot_->size()) {
    throw Error("snapshot at " + snapshot_->position().str() + " ended after " +
                std::to_string(imageRead_) + " of " + std::to_string(snapshot_->size()) + " bytes");
  }
  append(LZ4F_compressBound(0, &prefs_), [&](char* dst, size_t cap) {
    const size_t n = LZ4F_compressEnd(ctx_, dst, cap, nullptr);
    check(n, "frame end");
    return n;
  });
  ended_ = true;
  return true;
}

void SnapshotCompressor::next(std::string& out) {
  out.clear();
  step(out);
  produced_ += out.size();
  if (produced_ > size_ || (ended_ && produced_ != size_)) {
    throw Error("the compressed snapshot at " + snapshot_->position().str() + " came out as " +
                std::to_string(produced_) + " bytes, not the " + std::to_string(size_) +
                " measured");
  }
}

}  // namespace walstream::server
