// LZ4 frame format (the format of the `lz4` command line tool), used for shadow WAL segments
// on disk and on the wire.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>

namespace walstream {

// One frame carrying the content size and a content checksum (so corruption is detected).
std::string lz4Compress(std::span<const uint8_t> data);

// Decompresses one LZ4 frame. Throws Error on corrupt or truncated input, trailing bytes, or
// output larger than maxSize (a bound on what the caller is prepared to hold).
std::string lz4Decompress(std::span<const uint8_t> compressed, size_t maxSize);

// Where one frame ends, read without decompressing: a file may hold several frames back to
// back (shadow_wal.h). `read(offset, buffer, n)` reads up to n bytes at `offset` from the
// frame's start and returns how many it got. nullopt when the bytes there are not a whole
// frame of the kind lz4Compress writes (magic, descriptor, blocks, end mark, checksums).
struct Lz4FrameExtent {
  uint64_t bytes = 0;                   // the frame's length, checksums included
  std::optional<uint64_t> contentSize;  // as its header records it, when it does
};
using Lz4ReadAt = std::function<size_t(uint64_t offset, uint8_t* buffer, size_t n)>;
std::optional<Lz4FrameExtent> lz4FrameExtent(const Lz4ReadAt& read);

inline std::span<const uint8_t> asBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace walstream
