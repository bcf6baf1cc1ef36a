// Lz4Decompressor::decompressGrowing: every valid kind of LZ4 frame decodes (content size or
// not, every block size, block and content checksums or not, linked blocks), and the bound on
// the content holds while decompressing, when no content size tells it beforehand.
#include <doctest/doctest.h>

#include <cstring>
#include <random>
#include <string>

#include "core/error.h"
#include "core/lz4_codec.h"
#include "tests/support/lz4_frames.h"

using namespace walstream;
using walstream::test::Lz4FrameKind;
using walstream::test::lz4FrameOf;

namespace {

// Compressible but not uniform: matches both near and (for linked blocks) across blocks.
std::string mixedBytes(size_t n) {
  std::mt19937 rng(7);
  std::string s;
  s.reserve(n);
  while (s.size() < n) {
    if (rng() % 4 == 0) {
      for (int i = 0; i < 64; ++i) s += static_cast<char>(rng());
    } else {
      s += "page " + std::to_string(rng() % 5000) + " of the WAL;";
    }
  }
  s.resize(n);
  return s;
}

std::string contentOf(const Lz4Decompressor::Content& c) {
  return {reinterpret_cast<const char*>(c.data.get()), c.size};
}

std::string errorOf(Lz4Decompressor& d, const std::string& frame, size_t maxSize) {
  try {
    d.decompressGrowing(asBytes(frame), maxSize);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("decompressGrowing decodes frames with and without a content size, of every kind") {
  const std::string data = mixedBytes(9 << 20);  // more than two of the largest blocks
  for (bool verify : {true, false}) {
    Lz4Decompressor d(verify);
    for (bool contentSize : {false, true}) {
      for (size_t block : {size_t{64} << 10, size_t{256} << 10, size_t{1} << 20, size_t{4} << 20}) {
        for (bool blockChecksums : {false, true}) {
          for (bool contentChecksum : {false, true}) {
            for (bool linked : {false, true}) {
              CAPTURE(verify);
              CAPTURE(contentSize);
              CAPTURE(block);
              CAPTURE(blockChecksums);
              CAPTURE(contentChecksum);
              CAPTURE(linked);
              const Lz4FrameKind kind{contentSize, block, blockChecksums, contentChecksum, linked};
              const std::string frame = lz4FrameOf(data, kind);
              CHECK(lz4ContentSize(asBytes(frame)).has_value() == contentSize);
              const Lz4Decompressor::Content out = d.decompressGrowing(asBytes(frame), 16 << 20);
              CHECK(out.size == data.size());
              CHECK(contentOf(out) == data);
            }
          }
        }
      }
    }
  }
}

TEST_CASE("decompressGrowing stops at the bound, as soon as the content passes it") {
  Lz4Decompressor d;
  const std::string data(20 << 20, 'z');  // 20 MiB of one byte: a frame of a few KiB
  const std::string frame = lz4FrameOf(data, Lz4FrameKind{});
  CHECK(errorOf(d, frame, data.size() - 1).find("decompresses to more than") != std::string::npos);
  CHECK(d.decompressGrowing(asBytes(frame), data.size()).size == data.size());
  // The bound is enforced while decoding: the output seen by the progress callback never
  // passes it by more than one progress step.
  size_t largest = 0;
  try {
    d.decompressGrowing(asBytes(frame), size_t{1} << 20,
                        [&](std::span<const uint8_t> prefix) { largest = prefix.size(); });
  } catch (const Error&) {
  }
  CHECK(largest <= (size_t{1} << 20) + 1);
}

TEST_CASE("decompressGrowing refuses corrupt, truncated and trailing input") {
  Lz4Decompressor d;
  const std::string data = mixedBytes(300000);
  const std::string frame = lz4FrameOf(data, Lz4FrameKind{.contentChecksum = true});
  CHECK(errorOf(d, frame.substr(0, frame.size() - 5), 1 << 20).find("truncated") !=
        std::string::npos);
  CHECK(errorOf(d, frame + "x", 1 << 20).find("trailing") != std::string::npos);
  std::string corrupt = frame;
  corrupt[corrupt.size() / 2] ^= 0x55;
  CHECK(errorOf(d, corrupt, 1 << 20) != "(no error)");
  CHECK(errorOf(d, "not an lz4 frame", 1 << 20) != "(no error)");
  // The context recovers for the next frame.
  CHECK(contentOf(d.decompressGrowing(asBytes(frame), 1 << 20)) == data);
}
