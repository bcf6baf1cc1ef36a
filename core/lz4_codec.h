// LZ4 frame format (the format of the `lz4` command line tool), used for shadow WAL segments
// on disk and on the wire.
#pragma once

#include <cstdint>
#include <span>
#include <string>

namespace walstream {

// One frame carrying the content size and a content checksum (so corruption is detected).
std::string lz4Compress(std::span<const uint8_t> data);

// Decompresses one LZ4 frame. Throws Error on corrupt or truncated input, trailing bytes, or
// output larger than maxSize (a bound on what the caller is prepared to hold).
std::string lz4Decompress(std::span<const uint8_t> compressed, size_t maxSize);

inline std::span<const uint8_t> asBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace walstream
