// LZ4 frame format (the format of the `lz4` command line tool), used for shadow WAL segments
// on disk and on the wire.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
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
  bool contentChecksum = false;         // the frame ends with a checksum of its content
};
using Lz4ReadAt = std::function<size_t(uint64_t offset, uint8_t* buffer, size_t n)>;
std::optional<Lz4FrameExtent> lz4FrameExtent(const Lz4ReadAt& read);
// The same for a frame at the start of `bytes`, which must hold all of it (more may follow).
std::optional<Lz4FrameExtent> lz4FrameExtent(std::span<const uint8_t> bytes);

// The content size an LZ4 frame's header declares (lz4Compress always declares it); nullopt when
// the bytes do not start with an LZ4 frame header or it declares none. Not a validation of the
// frame: decompressing checks that the content really has this size.
std::optional<uint64_t> lz4ContentSize(std::span<const uint8_t> compressed);

// Largest block of an LZ4 frame (LZ4F_max4MB, what lz4Compress uses). A destination with this
// much room past the output position is decoded into directly, without a copy through the
// context's own block buffer.
inline constexpr size_t kLz4MaxBlockSize = size_t{4} << 20;

// Output between two progress calls of Lz4Decompressor::decompress (a few blocks: each step
// ends with at most one block decoded through the context's buffer instead of in place).
inline constexpr size_t kLz4ProgressStep = 4 * kLz4MaxBlockSize;

// The most content one compressed byte of an LZ4 frame can stand for: a match length's
// extension bytes add 255 each. A frame that declares more than this times its own size lies.
inline constexpr uint64_t kLz4MaxExpansion = 255;

// A decompression context reused across frames, for a thread that decompresses many: unlike
// lz4Decompress, it allocates its context and block buffers once and writes into memory the
// caller owns (and can reuse), instead of a fresh string grown by doubling.
class Lz4Decompressor {
 public:
  // verifyChecksums = false skips the frame's content checksum (xxHash32, about two thirds of
  // the decompression time): only for content that carries its own check of every byte, such as
  // WAL segments, whose frame chain (parseWalSegment) covers every header and page byte.
  explicit Lz4Decompressor(bool verifyChecksums = true);
  ~Lz4Decompressor();
  Lz4Decompressor(const Lz4Decompressor&) = delete;
  Lz4Decompressor& operator=(const Lz4Decompressor&) = delete;

  // Decompresses one whole LZ4 frame to the start of `out` and returns the content size. `out`
  // may be larger than the content (room for kLz4MaxBlockSize past it saves a copy per block);
  // nothing beyond the content is written. Throws Error on corrupt or truncated input, trailing
  // bytes, or content that does not fit in `out`.
  // onProgress, when given, is called with the bytes of `out` written so far after every
  // kLz4ProgressStep of them at most, and may throw to abandon the frame: so that content that
  // is not what it claims costs no more memory than one step past where it stops making sense.
  size_t decompress(std::span<const uint8_t> compressed, std::span<uint8_t> out,
                    const std::function<void(size_t written)>& onProgress = {});

  // Content decompressed into memory of its own (decompressGrowing).
  struct Content {
    std::unique_ptr<uint8_t[]> data;
    size_t size = 0;
  };
  // Decompresses one whole LZ4 frame of any kind: with or without a content size in its header
  // (a frame without one gives no size to check or to allocate up front), of any block size,
  // with or without block and content checksums, blocks linked or independent. The output
  // grows with the content, by doubling, and the call throws Error as soon as the content
  // exceeds maxSize (which must be below SIZE_MAX): memory stays bounded by about twice maxSize
  // whatever the frame claims, because a buffer outgrown is kept until the frame ends (linked
  // blocks refer back into earlier output). onProgress is called as for decompress().
  Content decompressGrowing(
      std::span<const uint8_t> compressed, size_t maxSize,
      const std::function<void(std::span<const uint8_t> prefix)>& onProgress = {});

 private:
  struct Context;
  std::unique_ptr<Context> ctx_;
  bool verifyChecksums_;
};

inline std::span<const uint8_t> asBytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

}  // namespace walstream
