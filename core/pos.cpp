#include "core/pos.h"

#include "core/error.h"

namespace walstream {

std::string formatHex16(uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i) {
    out[static_cast<size_t>(i)] = kDigits[v & 0xf];
    v >>= 4;
  }
  return out;
}

uint64_t parseHex16(std::string_view text, std::string_view what) {
  auto fail = [&] {
    throw Error(std::string("invalid ") + std::string(what) + " \"" + std::string(text) +
                "\": want 16 lowercase hex digits");
  };
  if (text.size() != 16) fail();
  uint64_t v = 0;
  for (char c : text) {
    unsigned d = 0;  // always set or thrown past; clang cannot tell that fail() throws
    if (c >= '0' && c <= '9') {
      d = static_cast<unsigned>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<unsigned>(c - 'a' + 10);
    } else {
      fail();
    }
    v = (v << 4) | d;
  }
  return v;
}

SegmentSuccession segmentSuccession(const Pos& end, const Pos& next) {
  if (next.generation != end.generation) return SegmentSuccession::kBreaks;
  if (next.index == end.index && next.offset == end.offset) return SegmentSuccession::kContinues;
  if (next.index == end.index + 1 && next.offset == 0) return SegmentSuccession::kStartsNextIndex;
  return SegmentSuccession::kBreaks;
}

std::string Pos::str() const {
  if (empty()) return {};
  return formatHex16(generation) + '/' + formatHex16(index) + ':' + formatHex16(offset);
}

Pos parsePos(std::string_view text) {
  if (text.empty()) return {};
  if (text.size() != 16 + 1 + 16 + 1 + 16 || text[16] != '/' || text[33] != ':') {
    throw Error("invalid position \"" + std::string(text) +
                "\": want GENERATION/INDEX:OFFSET, 16 lowercase hex digits each");
  }
  Pos p;
  p.generation = parseHex16(text.substr(0, 16), "generation");
  p.index = parseHex16(text.substr(17, 16), "index");
  p.offset = parseHex16(text.substr(34, 16), "offset");
  if (p.generation == 0) {
    throw Error("invalid position \"" + std::string(text) + "\": generation 0 is reserved");
  }
  return p;
}

}  // namespace walstream
