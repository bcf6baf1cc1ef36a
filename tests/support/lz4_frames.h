// LZ4 frames of every kind the frame format allows, for tests of readers that must accept them
// all: walstream writes one kind (lz4_codec.h: content size, 4 MiB blocks, content checksum);
// a primary of the original protocol writes frames without a content size.
#pragma once

#include <cstddef>
#include <string>

namespace walstream::test {

struct Lz4FrameKind {
  bool contentSize = false;            // the header records the content size
  size_t blockSize = size_t{4} << 20;  // 64 KiB, 256 KiB, 1 MiB or 4 MiB
  bool blockChecksums = false;
  bool contentChecksum = true;
  bool linkedBlocks = false;  // blocks may refer to the ones before them
};

// `data` as one LZ4 frame of that kind.
std::string lz4FrameOf(const std::string& data, const Lz4FrameKind& kind);

}  // namespace walstream::test
