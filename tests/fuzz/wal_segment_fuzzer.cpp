// Fuzz target: WAL segment parsing (core/wal_segment.h) and the lz4 frame helpers that read
// segments received from the network or found on disk (core/lz4_codec.h).
//
// Input: a mode byte, then per mode:
//   0  raw WAL bytes at offset 0 (a WAL header, then frames);
//   1  a chain state and an offset, then raw WAL bytes at that offset:
//      page size shift (512 << n % 8), salt-1, salt-2, s0, s1 (big-endian u32), a byte whose
//      bit 0 selects big-endian checksum words, the offset (big-endian u64);
//   2  a big-endian u32 control word, then an lz4 frame. Control: top 4 bits 1 = room for
//      exactly the declared content size, 2 = that plus kLz4MaxBlockSize, else the low bits
//      modulo 64 KiB + 1; bit 27 = first fail on the frame's first half with the same context.
//      What the frame decompresses to is then parsed as in mode 0.
// Properties: parseWalSegment either returns a segment consistent with its input (frames of the
// state's page size inside the bytes, transactions ending on their only commit frame, the end
// offset, the advanced state) and parsing it in two parts gives the same state, or throws Error
// naming a WAL offset inside the segment and leaves the state unchanged. The lz4 entry points
// agree: lz4Decompress and Lz4Decompressor accept the same frames with the same content when the
// room suffices, a reused Lz4Decompressor behaves like a fresh one, skipping checksums accepts
// at least as much, a declared content size is the real one, and lz4FrameExtent measures every
// frame that decompresses as the whole input.
#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/lz4_codec.h"
#include "core/wal_format.h"
#include "core/wal_segment.h"
#include "tests/fuzz/fuzz_check.h"

using namespace walstream;

namespace {

// Bound on decompressed output: keeps every run fast and small; real segments are this size or
// less in the seeds.
constexpr size_t kMaxOutput = size_t{1} << 20;
// Bound on the room a control word asks for: larger than any seed's content, small enough that
// allocating it does not dominate a run.
constexpr size_t kMaxRoom = size_t{64} << 10;
constexpr uint32_t kLz4Magic = 0x184D2204;

bool sameState(const WalChainState& a, const WalChainState& b) {
  return a.pageSize == b.pageSize && a.salt1 == b.salt1 && a.salt2 == b.salt2 &&
         a.bigEndianChecksum == b.bigEndianChecksum && a.checksum == b.checksum;
}

// The N of an Error's trailing "at WAL offset N".
std::optional<uint64_t> walOffsetOf(std::string_view message) {
  constexpr std::string_view kTag = " at WAL offset ";
  const size_t at = message.rfind(kTag);
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view digits = message.substr(at + kTag.size());
  uint64_t v = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
  return v;
}

void checkParse(std::span<const uint8_t> bytes, uint64_t offset, const WalChainState& initial) {
  WalChainState state = initial;
  ParsedWalSegment parsed;
  try {
    parsed = parseWalSegment(bytes, offset, state);
  } catch (const Error& e) {
    FUZZ_CHECK(sameState(state, initial));
    const std::optional<uint64_t> at = walOffsetOf(e.what());
    FUZZ_CHECK(at.has_value());
    // Offsets come from the wire as any u64; offset + size may wrap, the difference cannot.
    FUZZ_CHECK(*at >= offset && *at - offset <= bytes.size());
    return;
  }
  FUZZ_CHECK(parsed.endOffset == offset + bytes.size());
  FUZZ_CHECK(parsed.header.has_value() == (offset == 0));
  FUZZ_CHECK(state.initialized());
  if (parsed.header) {
    FUZZ_CHECK(state.pageSize == parsed.header->pageSize);
  } else {
    FUZZ_CHECK(state.pageSize == initial.pageSize && state.salt1 == initial.salt1 &&
               state.salt2 == initial.salt2);
  }
  const size_t headerBytes = parsed.header ? kWalHeaderSize : 0;
  const size_t frameSize = size_t{state.pageSize} + kWalFrameHeaderSize;
  FUZZ_CHECK(bytes.size() == headerBytes + parsed.frameCount() * frameSize);
  FUZZ_CHECK(parsed.frameCount() > 0 || parsed.header);
  const uint8_t* expectedPage = bytes.data() + headerBytes + kWalFrameHeaderSize;
  const WalFrameView* last = nullptr;
  for (const WalTransaction& txn : parsed.transactions) {
    FUZZ_CHECK(!txn.frames.empty());
    for (size_t i = 0; i < txn.frames.size(); ++i) {
      const WalFrameView& f = txn.frames[i];
      FUZZ_CHECK(f.header.isCommit() == (i + 1 == txn.frames.size()));
      FUZZ_CHECK(f.header.pageNumber != 0);
      FUZZ_CHECK(f.header.salt1 == state.salt1 && f.header.salt2 == state.salt2);
      FUZZ_CHECK(f.page.data() == expectedPage && f.page.size() == state.pageSize);
      expectedPage += frameSize;
      last = &f;
    }
    FUZZ_CHECK(txn.commitSize() == txn.frames.back().header.commitSize);
  }
  FUZZ_CHECK(last ? state.checksum == last->header.checksum
                  : state.checksum == parsed.header->checksum);

  // The chain continues across segment boundaries: the first transaction, then the rest from
  // the state it left, end in the same state (how a replica resumes between segments).
  if (parsed.transactions.size() >= 2) {
    const size_t cut = headerBytes + parsed.transactions.front().frames.size() * frameSize;
    WalChainState split = initial;
    (void)parseWalSegment(bytes.first(cut), offset, split);
    (void)parseWalSegment(bytes.subspan(cut), offset + cut, split);
    FUZZ_CHECK(sameState(split, state));
  }
}

// A fresh buffer of n bytes, not initialized: decompressors must not depend on its contents.
std::unique_ptr<uint8_t[]> buffer(size_t n) {
  return std::make_unique_for_overwrite<uint8_t[]>(std::max<size_t>(n, 1));
}

std::optional<size_t> tryDecompress(Lz4Decompressor& d, std::span<const uint8_t> in,
                                    std::span<uint8_t> out) {
  try {
    return d.decompress(in, out);
  } catch (const Error&) {
    return std::nullopt;
  }
}

void checkLz4(std::span<const uint8_t> in, uint32_t control) {
  std::optional<std::string> whole;
  try {
    whole = lz4Decompress(in, kMaxOutput);
    FUZZ_CHECK(whole->size() <= kMaxOutput);
  } catch (const Error&) {
  }

  const std::optional<uint64_t> declared = lz4ContentSize(in);
  // Zero in the content size field means "unknown" to the lz4 frame format.
  if (whole && declared && *declared != 0) FUZZ_CHECK(*declared == whole->size());

  const std::optional<Lz4FrameExtent> extent = lz4FrameExtent(in);
  if (whole && in.size() >= 4 && in[0] == (kLz4Magic & 0xff) &&
      in[1] == ((kLz4Magic >> 8) & 0xff) && in[2] == ((kLz4Magic >> 16) & 0xff) &&
      in[3] == (kLz4Magic >> 24)) {
    FUZZ_CHECK(extent.has_value());
    FUZZ_CHECK(extent->bytes == in.size());
    FUZZ_CHECK(extent->contentSize == declared);
  }

  // Room: from the control word, or exactly the declared size (as the replica sizes its batch
  // buffer), or that plus a whole block of room past it (the no-copy path).
  size_t room = control % (kMaxRoom + 1);
  if (declared && *declared <= kMaxOutput) {
    if ((control >> 28) == 1) room = static_cast<size_t>(*declared);
    if ((control >> 28) == 2) room = static_cast<size_t>(*declared) + kLz4MaxBlockSize;
  }
  const auto out = buffer(room);
  Lz4Decompressor verifying(true);
  // A context that failed midway (a truncated frame) must not affect the next frame.
  if (in.size() > 1 && (control & 0x08000000)) {
    (void)tryDecompress(verifying, in.first(in.size() / 2), {out.get(), room});
  }
  const std::optional<size_t> got = tryDecompress(verifying, in, {out.get(), room});
  if (room <= kMaxOutput) {
    FUZZ_CHECK(got.has_value() == (whole && whole->size() <= room));
  } else if (whole) {
    FUZZ_CHECK(got.has_value());
  }
  if (got) {
    FUZZ_CHECK(*got <= room);
    if (whole)
      FUZZ_CHECK(*got == whole->size() && std::memcmp(out.get(), whole->data(), *got) == 0);
    Lz4Decompressor skipping(false);
    const auto out2 = buffer(room);
    const std::optional<size_t> got2 = tryDecompress(skipping, in, {out2.get(), room});
    FUZZ_CHECK(got2 == got && std::memcmp(out.get(), out2.get(), *got) == 0);
  }

  if (whole) checkParse(asBytes(*whole), 0, {});
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::InputReader in(data, size);
  switch (in.byte() % 3) {
    case 0:
      checkParse(in.rest(), 0, {});
      break;
    case 1: {
      WalChainState state;
      state.pageSize = 512u << (in.byte() % 8);
      state.salt1 = in.u32();
      state.salt2 = in.u32();
      state.checksum.s0 = in.u32();
      state.checksum.s1 = in.u32();
      state.bigEndianChecksum = (in.byte() & 1) != 0;
      const uint64_t offset = in.u64();
      checkParse(in.rest(), offset, state);
      break;
    }
    case 2: {
      const uint32_t control = in.u32();
      checkLz4(in.rest(), control);
      break;
    }
  }
  return 0;
}
