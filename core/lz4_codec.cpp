#include "core/lz4_codec.h"

#include <lz4frame.h>

#include <algorithm>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "core/byte_order.h"
#include "core/error.h"

namespace walstream {

namespace {

// LZ4 frame format (lz4_Frame_format.md): magic, FLG, BD, optional content size (8 bytes) and
// dictionary id (4), header checksum (1); then blocks of a 4-byte little-endian size (high bit:
// stored uncompressed) each followed by an optional 4-byte block checksum; a zero size ends
// the blocks, followed by an optional 4-byte content checksum.
constexpr uint32_t kLz4Magic = 0x184D2204;
constexpr uint8_t kFlgVersionMask = 0xC0;
constexpr uint8_t kFlgVersion1 = 0x40;
constexpr uint8_t kFlgBlockChecksum = 0x10;
constexpr uint8_t kFlgContentSize = 0x08;
constexpr uint8_t kFlgContentChecksum = 0x04;
constexpr uint8_t kFlgDictId = 0x01;
constexpr uint32_t kBlockUncompressed = 0x80000000u;

}  // namespace

std::optional<Lz4FrameExtent> lz4FrameExtent(const Lz4ReadAt& read) {
  uint8_t h[19];
  const size_t got = read(0, h, sizeof h);
  if (got < 7 || loadLE32(h) != kLz4Magic || (h[4] & kFlgVersionMask) != kFlgVersion1) {
    return std::nullopt;
  }
  const uint8_t flg = h[4];
  size_t headerBytes = 7;
  Lz4FrameExtent out;
  if (flg & kFlgContentSize) {
    headerBytes += 8;
    if (got < headerBytes) return std::nullopt;
    uint64_t size = 0;
    for (int i = 7; i >= 0; --i) size = (size << 8) | h[6 + i];
    out.contentSize = size;
  }
  if (flg & kFlgDictId) headerBytes += 4;
  if (got < headerBytes) return std::nullopt;
  uint64_t at = headerBytes;
  const uint64_t blockTrailer = (flg & kFlgBlockChecksum) ? 4 : 0;
  for (;;) {
    uint8_t b[4];
    if (read(at, b, 4) != 4) return std::nullopt;
    at += 4;
    const uint32_t size = loadLE32(b) & ~kBlockUncompressed;
    if (size == 0) break;  // end mark
    if (size > kLz4MaxBlockSize) return std::nullopt;
    at += size + blockTrailer;
  }
  if (flg & kFlgContentChecksum) {
    uint8_t c[4];
    if (read(at, c, 4) != 4) return std::nullopt;
    at += 4;
    out.contentChecksum = true;
  }
  out.bytes = at;
  return out;
}

std::optional<Lz4FrameExtent> lz4FrameExtent(std::span<const uint8_t> bytes) {
  return lz4FrameExtent([bytes](uint64_t offset, uint8_t* buffer, size_t n) -> size_t {
    if (offset >= bytes.size()) return 0;
    const size_t got = static_cast<size_t>(std::min<uint64_t>(n, bytes.size() - offset));
    std::memcpy(buffer, bytes.data() + offset, got);
    return got;
  });
}

std::string lz4Compress(std::span<const uint8_t> data) {
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.contentSize = data.size();  // lets readers size their buffer up front
  prefs.frameInfo.blockSizeID = LZ4F_max4MB;
  // Without a content checksum a flipped bit in a literal run decodes silently to wrong bytes.
  prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
  std::string out(LZ4F_compressFrameBound(data.size(), &prefs), '\0');
  size_t n = LZ4F_compressFrame(out.data(), out.size(), data.data(), data.size(), &prefs);
  if (LZ4F_isError(n)) throw Error(std::string("lz4 compression failed: ") + LZ4F_getErrorName(n));
  out.resize(n);
  return out;
}

std::string lz4Decompress(std::span<const uint8_t> in, size_t maxSize) {
  LZ4F_dctx* raw = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION))) {
    throw Error("lz4: cannot create a decompression context");
  }
  std::unique_ptr<LZ4F_dctx, decltype(&LZ4F_freeDecompressionContext)> ctx(
      raw, &LZ4F_freeDecompressionContext);
  // Output is allowed to grow to one byte past maxSize, which proves it is too large.
  const size_t cap = maxSize == std::numeric_limits<size_t>::max() ? maxSize : maxSize + 1;
  std::string out;
  size_t inPos = 0;
  size_t hint = 1;
  while (inPos < in.size()) {
    size_t old = out.size();
    size_t room = std::min<size_t>(std::max<size_t>(64 * 1024, old), cap - old);
    out.resize(old + room);
    size_t dstSize = room;
    size_t srcSize = in.size() - inPos;
    hint = LZ4F_decompress(ctx.get(), out.data() + old, &dstSize, in.data() + inPos, &srcSize,
                           nullptr);
    if (LZ4F_isError(hint)) {
      throw Error(std::string("corrupt lz4 data at compressed byte ") + std::to_string(inPos) +
                  ": " + LZ4F_getErrorName(hint));
    }
    inPos += srcSize;
    out.resize(old + dstSize);
    if (out.size() > maxSize) {
      throw Error("lz4 data decompresses to more than " + std::to_string(maxSize) + " bytes");
    }
    if (hint == 0) break;  // frame complete
  }
  if (hint != 0) throw Error("truncated lz4 frame");
  if (inPos != in.size()) {
    throw Error("trailing bytes after lz4 frame at compressed byte " + std::to_string(inPos));
  }
  return out;
}

std::optional<uint64_t> lz4ContentSize(std::span<const uint8_t> in) {
  // Frame header: magic (4 bytes LE), FLG (version in bits 7-6 = 01, content size present in
  // bit 3), BD, then the content size (8 bytes LE) when present.
  constexpr uint32_t kMagic = 0x184D2204;
  if (in.size() < 14 || loadLE32(in.data()) != kMagic) return std::nullopt;
  const uint8_t flg = in[4];
  if ((flg >> 6) != 1 || (flg & 0x08) == 0) return std::nullopt;
  return loadLE32(in.data() + 6) | (uint64_t{loadLE32(in.data() + 10)} << 32);
}

struct Lz4Decompressor::Context {
  LZ4F_dctx* dctx = nullptr;
  ~Context() { LZ4F_freeDecompressionContext(dctx); }
};

Lz4Decompressor::Lz4Decompressor(bool verifyChecksums)
    : ctx_(std::make_unique<Context>()), verifyChecksums_(verifyChecksums) {
  if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx_->dctx, LZ4F_VERSION))) {
    throw Error("lz4: cannot create a decompression context");
  }
}

Lz4Decompressor::~Lz4Decompressor() = default;

size_t Lz4Decompressor::decompress(std::span<const uint8_t> in, std::span<uint8_t> out,
                                   const std::function<void(size_t)>& onProgress) {
  LZ4F_resetDecompressionContext(ctx_->dctx);  // a previous frame may have failed midway
  size_t inPos = 0;
  size_t outPos = 0;
  size_t hint = 1;
  LZ4F_decompressOptions_t options{};
  options.skipChecksums = verifyChecksums_ ? 0 : 1;
  // A call limited to a step may leave decoded bytes in the context after the last input byte
  // is consumed (`filled`): the loop goes on without input until they are out.
  bool filled = false;
  while (inPos < in.size() || filled) {
    const size_t room = out.size() - outPos;
    size_t dstSize = onProgress ? std::min(room, kLz4ProgressStep) : room;
    const size_t window = dstSize;
    size_t srcSize = in.size() - inPos;
    hint = LZ4F_decompress(ctx_->dctx, out.data() + outPos, &dstSize, in.data() + inPos, &srcSize,
                           &options);
    if (LZ4F_isError(hint)) {
      throw Error(std::string("corrupt lz4 data at compressed byte ") + std::to_string(inPos) +
                  ": " + LZ4F_getErrorName(hint));
    }
    inPos += srcSize;
    outPos += dstSize;
    if (onProgress) onProgress(outPos);
    if (hint == 0) break;  // frame complete
    filled = window < room && dstSize == window;
    if (srcSize == 0 && dstSize == 0) {
      if (inPos == in.size()) break;  // nothing was left in the context: truncated
      throw Error("lz4 data decompresses to more than " + std::to_string(out.size()) + " bytes");
    }
  }
  if (hint != 0) throw Error("truncated lz4 frame");
  if (inPos != in.size()) {
    throw Error("trailing bytes after lz4 frame at compressed byte " + std::to_string(inPos));
  }
  return outPos;
}

Lz4Decompressor::Content Lz4Decompressor::decompressGrowing(
    std::span<const uint8_t> in, size_t maxSize,
    const std::function<void(std::span<const uint8_t>)>& onProgress) {
  LZ4F_resetDecompressionContext(ctx_->dctx);
  LZ4F_decompressOptions_t options{};
  options.skipChecksums = verifyChecksums_ ? 0 : 1;
  // Room for one byte past maxSize: content that fills it is too large.
  const size_t limit = maxSize + 1;
  size_t capacity = std::min(limit, size_t{64} * 1024);
  Content out{std::make_unique_for_overwrite<uint8_t[]>(capacity), 0};
  std::vector<std::unique_ptr<uint8_t[]>> outgrown;
  size_t inPos = 0;
  size_t hint = 1;
  for (;;) {
    if (out.size == capacity) {
      if (capacity == limit) break;  // reported below as too large
      capacity = capacity > limit / 2 ? limit : capacity * 2;
      auto bigger = std::make_unique_for_overwrite<uint8_t[]>(capacity);
      std::memcpy(bigger.get(), out.data.get(), out.size);
      outgrown.push_back(std::exchange(out.data, std::move(bigger)));
    }
    size_t dstSize = std::min(capacity - out.size, kLz4ProgressStep);
    size_t srcSize = in.size() - inPos;
    hint = LZ4F_decompress(ctx_->dctx, out.data.get() + out.size, &dstSize, in.data() + inPos,
                           &srcSize, &options);
    if (LZ4F_isError(hint)) {
      throw Error(std::string("corrupt lz4 data at compressed byte ") + std::to_string(inPos) +
                  ": " + LZ4F_getErrorName(hint));
    }
    inPos += srcSize;
    out.size += dstSize;
    if (out.size > maxSize) break;
    if (onProgress && dstSize > 0) onProgress({out.data.get(), out.size});
    if (hint == 0) break;                     // frame complete
    if (srcSize == 0 && dstSize == 0) break;  // no input left, nothing held back: truncated
  }
  if (out.size > maxSize) {
    throw Error("lz4 data decompresses to more than " + std::to_string(maxSize) + " bytes");
  }
  if (hint != 0) throw Error("truncated lz4 frame");
  if (inPos != in.size()) {
    throw Error("trailing bytes after lz4 frame at compressed byte " + std::to_string(inPos));
  }
  return out;
}

}  // namespace walstream
