#include "backup/wal_object.h"

#include <limits>
#include <optional>
#include <string_view>

#include "backup/checked_payload.h"
#include "backup/skippable_frame.h"
#include "core/error.h"
#include "core/lz4_codec.h"
#include "core/wal_segment.h"

namespace walstream::backup {

namespace {

constexpr std::string_view kMagic = "WSWAL001";
constexpr std::string_view kWhat = "WAL object header";
constexpr size_t kSegmentFieldBytes = 32;  // offset, WAL bytes, compressed bytes, captured at
// Magic, generation, index, offset, previous index end, segment count.
constexpr size_t kFixedFieldBytes = 8 + 3 * 8 + 8 + 4;
constexpr size_t kMaxSegments =
    (std::numeric_limits<uint32_t>::max() - kFixedFieldBytes - kPayloadSumSize) /
    kSegmentFieldBytes;

std::string segmentName(size_t i, const WalObjectSegment& s) {
  return "segment " + std::to_string(i) + " (WAL offset " + std::to_string(s.offset) + ")";
}

std::optional<std::string> segmentFlaw(size_t i, const WalObjectSegment& s, uint64_t expected) {
  if (s.offset != expected) {
    return segmentName(i, s) + " does not start where the one before ends (" +
           std::to_string(expected) + "): segments must be contiguous";
  }
  if (s.walBytes == 0) return segmentName(i, s) + " holds no WAL bytes";
  if (s.walBytes > kMaxWalSegmentBytes) {
    return segmentName(i, s) + " holds " + std::to_string(s.walBytes) +
           " WAL bytes, more than the largest segment (" + std::to_string(kMaxWalSegmentBytes) +
           ")";
  }
  if (s.offset > std::numeric_limits<uint64_t>::max() - s.walBytes) {
    return segmentName(i, s) + " ends past the largest WAL offset";
  }
  if (s.size == 0) return segmentName(i, s) + " has a compressed size of 0";
  return std::nullopt;
}

// What makes `h` no header of docs/backup.md §4; the encoder and the decoder hold every header
// to the same rules.
std::optional<std::string> headerFlaw(const WalObjectHeader& h) {
  if (h.start.generation == 0) return "generation 0";
  if (h.previousIndexEnd != 0 && (h.start.offset != 0 || h.start.index == 0)) {
    return "previous index end " + std::to_string(h.previousIndexEnd) + " at index " +
           std::to_string(h.start.index) + " offset " + std::to_string(h.start.offset) +
           " (only an object at offset 0 of an index past 0 has one)";
  }
  if (h.segments.empty()) return "no segments";
  if (h.segments.size() > kMaxSegments) {
    return std::to_string(h.segments.size()) + " segments, more than a header holds";
  }
  uint64_t expected = h.start.offset;
  for (size_t i = 0; i < h.segments.size(); ++i) {
    const WalObjectSegment& s = h.segments[i];
    if (std::optional<std::string> flaw = segmentFlaw(i, s, expected)) return flaw;
    expected = s.offset + s.walBytes;
  }
  return std::nullopt;
}

WalObjectSegment readSegment(PayloadReader& r) {
  WalObjectSegment s;
  s.offset = r.u64("segment WAL offset");
  s.walBytes = r.u64("segment WAL bytes");
  s.size = r.u64("segment compressed bytes");
  s.capturedAtMs = r.i64("segment captured at");
  return s;
}

// Checks that `frame` is one whole LZ4 frame declaring the segment's WAL bytes.
void checkSegmentFrame(size_t i, const WalObjectSegment& s, std::span<const uint8_t> frame) {
  const auto fail = [&](const std::string& why) {
    throw Error("WAL object: " + segmentName(i, s) + ": " + why);
  };
  const std::optional<Lz4FrameExtent> extent = lz4FrameExtent(frame);
  if (!extent) fail("not a whole LZ4 frame within its " + std::to_string(s.size) + " bytes");
  if (extent->bytes != s.size) {
    fail("its LZ4 frame ends after " + std::to_string(extent->bytes) + " of its " +
         std::to_string(s.size) + " compressed bytes");
  }
  if (extent->contentSize != s.walBytes) {
    fail("its LZ4 frame declares " +
         (extent->contentSize ? std::to_string(*extent->contentSize) + " bytes" : "no size") +
         " of content, the header " + std::to_string(s.walBytes) + " WAL bytes");
  }
}

}  // namespace

uint64_t WalObjectHeader::endOffset() const {
  if (segments.empty()) return start.offset;
  return segments.back().offset + segments.back().walBytes;
}

std::string encodeWalObjectHeader(const WalObjectHeader& header) {
  if (std::optional<std::string> flaw = headerFlaw(header)) {
    throw Error("cannot encode a WAL object header: " + *flaw);
  }
  PayloadWriter w(kMagic);
  w.u64(header.start.generation);
  w.u64(header.start.index);
  w.u64(header.start.offset);
  w.u64(header.previousIndexEnd);
  w.u32(static_cast<uint32_t>(header.segments.size()));
  for (const WalObjectSegment& s : header.segments) {
    w.u64(s.offset);
    w.u64(s.walBytes);
    w.u64(s.size);
    w.u64(static_cast<uint64_t>(s.capturedAtMs));
  }
  const std::string payload = std::move(w).finish();
  return encodeSkippableFrame(kWalObjectHeaderMagic, asBytes(payload), kWhat);
}

DecodedWalObjectHeader decodeWalObjectHeader(std::span<const uint8_t> bytes) {
  const std::span<const uint8_t> payload =
      skippableFramePayload(bytes, kWalObjectHeaderMagic, kWhat);
  PayloadReader r(payload, std::string(kWhat), kMagic);
  DecodedWalObjectHeader out;
  WalObjectHeader& h = out.header;
  h.start.generation = r.u64("generation");
  h.start.index = r.u64("index");
  h.start.offset = r.u64("offset");
  h.previousIndexEnd = r.u64("previous index end");
  const uint32_t count = r.u32("segment count");
  // The count is believed only once the bytes for that many segments are there.
  if (r.remaining() % kSegmentFieldBytes != 0 || r.remaining() / kSegmentFieldBytes != count) {
    r.fail("segment count " + std::to_string(count) + " does not match the " +
           std::to_string(r.remaining()) + " bytes of segment fields (32 each)");
  }
  h.segments.reserve(count);
  for (uint32_t i = 0; i < count; ++i) h.segments.push_back(readSegment(r));
  if (std::optional<std::string> flaw = headerFlaw(h)) r.fail(*flaw);
  out.frameBytes = kSkippableFrameHeaderSize + payload.size();
  return out;
}

WalObjectView parseWalObject(std::span<const uint8_t> bytes) {
  DecodedWalObjectHeader decoded = decodeWalObjectHeader(bytes);
  WalObjectView view{std::move(decoded.header), {}};
  const std::vector<WalObjectSegment>& segments = view.header.segments;
  // Bounded: the header held 32 bytes for each of them.
  view.segments.reserve(segments.size());
  uint64_t at = decoded.frameBytes;
  for (size_t i = 0; i < segments.size(); ++i) {
    const WalObjectSegment& s = segments[i];
    if (s.size > bytes.size() - at) {
      throw Error("WAL object: " + segmentName(i, s) + ": " + std::to_string(s.size) +
                  " compressed bytes at object byte " + std::to_string(at) + ", only " +
                  std::to_string(bytes.size() - at) + " left");
    }
    const std::span<const uint8_t> frame = bytes.subspan(at, s.size);
    checkSegmentFrame(i, s, frame);
    view.segments.push_back(frame);
    at += s.size;
  }
  if (at != bytes.size()) {
    throw Error("WAL object: " + std::to_string(bytes.size() - at) +
                " bytes after its last segment (object byte " + std::to_string(at) + ")");
  }
  return view;
}

std::string encodeWalObject(const WalObjectHeader& header,
                            const std::vector<std::span<const uint8_t>>& segments) {
  if (segments.size() != header.segments.size()) {
    throw Error("cannot encode a WAL object: " + std::to_string(segments.size()) +
                " segment frames for a header of " + std::to_string(header.segments.size()));
  }
  std::string out = encodeWalObjectHeader(header);
  for (size_t i = 0; i < segments.size(); ++i) {
    if (segments[i].size() != header.segments[i].size) {
      throw Error("cannot encode a WAL object: " + segmentName(i, header.segments[i]) + " has " +
                  std::to_string(segments[i].size()) + " compressed bytes, its header " +
                  std::to_string(header.segments[i].size));
    }
    out.append(reinterpret_cast<const char*>(segments[i].data()), segments[i].size());
  }
  return out;
}

}  // namespace walstream::backup
