#include "server/capture/segment_tail.h"

#include <lz4frame.h>

#include <algorithm>
#include <memory>
#include <string>

#include "core/byte_order.h"
#include "core/error.h"
#include "core/file_util.h"

namespace walstream::server {

namespace {

using DecompressionContext = std::unique_ptr<LZ4F_dctx, decltype(&LZ4F_freeDecompressionContext)>;

DecompressionContext makeContext() {
  LZ4F_dctx* raw = nullptr;
  if (LZ4F_isError(LZ4F_createDecompressionContext(&raw, LZ4F_VERSION))) {
    throw Error("lz4: cannot create a decompression context");
  }
  return {raw, &LZ4F_freeDecompressionContext};
}

}  // namespace

SegmentTail readSegmentTail(const ShadowWal& shadow, const Pos& start, uint32_t pageSize) {
  for (const SegmentInfo& s : shadow.listSegments(start.generation, start.index)) {
    if (s.pos == start) return readListedSegmentTail(shadow, s, pageSize);
  }
  throw Error("no shadow WAL segment starts at " + start.str() + " (" + shadow.segmentPath(start) +
              " or an earlier file of its index)");
}

SegmentTail readListedSegmentTail(const ShadowWal& shadow, const SegmentInfo& segment,
                                  uint32_t pageSize) {
  const Pos& start = segment.pos;
  const std::string path = shadow.segmentPath({start.generation, start.index, segment.fileOffset});
  if (!isValidPageSize(pageSize)) {
    throw Error("cannot check segment " + path + ": invalid page size " + std::to_string(pageSize));
  }
  const std::string compressed = shadow.readSegmentData(segment);
  const size_t frameSize = pageSize + kWalFrameHeaderSize;
  const size_t keep = std::max(frameSize, kWalHeaderSize);

  DecompressionContext ctx = makeContext();
  std::string tail;  // the last `keep` bytes decompressed so far
  std::string block(64 * 1024, '\0');
  uint64_t total = 0;
  size_t inPos = 0;
  size_t hint = 1;
  while (inPos < compressed.size() && hint != 0) {
    size_t dstSize = block.size();
    size_t srcSize = compressed.size() - inPos;
    hint = LZ4F_decompress(ctx.get(), block.data(), &dstSize, compressed.data() + inPos, &srcSize,
                           nullptr);
    if (LZ4F_isError(hint)) {
      throw Error("corrupt segment " + path + " at compressed byte " + std::to_string(inPos) +
                  ": " + LZ4F_getErrorName(hint));
    }
    inPos += srcSize;
    total += dstSize;
    tail.append(block.data(), dstSize);
    if (tail.size() > keep) tail.erase(0, tail.size() - keep);
  }
  if (hint != 0) throw Error("truncated segment " + path);

  const uint64_t headerBytes = start.offset == 0 ? kWalHeaderSize : 0;
  if (total < headerBytes || (total - headerBytes) % frameSize != 0) {
    throw Error("segment " + path + " holds " + std::to_string(total) +
                " bytes, not whole WAL frames of page size " + std::to_string(pageSize));
  }
  SegmentTail out;
  out.walBytes = total;
  const auto* bytes = reinterpret_cast<const uint8_t*>(tail.data());
  if (total == headerBytes) {
    if (total == 0) throw Error("segment " + path + " is empty");
    // Only a WAL header: the chain starts from the header's checksum.
    out.checksum = {loadBE32(bytes + 24), loadBE32(bytes + 28)};
  } else {
    const uint8_t* frame = bytes + tail.size() - frameSize;
    out.checksum = WalFrameHeader::decode(frame).checksum;
  }
  return out;
}

std::optional<Checksum> checksumAt(const ShadowWal& shadow, const Pos& pos, uint32_t pageSize) {
  if (pos.empty() || pos.offset == 0) return std::nullopt;
  std::optional<SegmentInfo> before;
  for (auto& s : shadow.listSegments(pos.generation, pos.index)) {
    if (s.pos.offset < pos.offset) before = std::move(s);
  }
  if (!before) return std::nullopt;
  if (!pathExists(shadow.segmentPath({pos.generation, pos.index, before->fileOffset}))) {
    return std::nullopt;  // removed meanwhile
  }
  SegmentTail tail = readListedSegmentTail(shadow, *before, pageSize);
  if (before->pos.offset + tail.walBytes != pos.offset) return std::nullopt;
  return tail.checksum;
}

}  // namespace walstream::server
