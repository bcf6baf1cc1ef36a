#include <doctest/doctest.h>

#include <cstring>

#include "backup/fnv1a64.h"
#include "backup/wal_object.h"
#include "core/byte_order.h"
#include "core/error.h"
#include "core/file_util.h"
#include "core/lz4_codec.h"
#include "core/wal_segment.h"
#include "tests/support/lz4_tool.h"
#include "tests/support/sqlite_fixture.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::backup;
using namespace walstream::test;

namespace {

constexpr uint64_t kGeneration = 0x0123456789abcdef;
constexpr size_t kFrameHeader = 8;  // skippable frame: magic, payload size
// Payload fields: magic 8, position 24, previous index end 8, segment count 4, segments.
constexpr size_t kCountAt = kFrameHeader + 40;
constexpr size_t kSegmentsAt = kCountAt + 4;

// A real WAL of several transactions (page size 1024), all still in the -wal.
std::vector<uint8_t> makeRealWal(const TempDir& dir) {
  const std::string path = dir.file("app.db");
  auto db = openWalDatabase(path, {.pageSize = 1024});
  db->exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
  for (int txn = 0; txn < 8; ++txn) {
    db->exec("INSERT INTO t(v) VALUES(randomblob(" + std::to_string(500 + 700 * txn) + "))");
  }
  return readBytes(path + "-wal");
}

// Segments as the shadow WAL stores them: each slice compressed as one frame.
struct Segments {
  std::vector<WalObjectSegment> fields;
  std::vector<std::string> frames;
  std::vector<uint8_t> walBytes;  // the WAL bytes they hold, in order
};

Segments compress(const std::vector<WalSlice>& slices, size_t first, size_t count) {
  Segments out;
  for (size_t i = first; i < first + count; ++i) {
    const WalSlice& s = slices[i];
    out.frames.push_back(lz4Compress(s.bytes));
    out.fields.push_back({s.offset, s.bytes.size(), out.frames.back().size(),
                          1700000000000 + static_cast<int64_t>(i)});
    out.walBytes.insert(out.walBytes.end(), s.bytes.begin(), s.bytes.end());
  }
  return out;
}

std::string objectOf(const Segments& segments, uint64_t index = 0) {
  WalObjectHeader header;
  header.start = {kGeneration, index, segments.fields.front().offset};
  header.segments = segments.fields;
  std::vector<std::span<const uint8_t>> frames;
  for (const std::string& f : segments.frames) frames.push_back(asBytes(f));
  return encodeWalObject(header, frames);
}

std::string parseError(const std::string& object) {
  try {
    parseWalObject(asBytes(object));
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

// Recomputes the header's sum after a test changed its fields, so that the field is what is
// refused and not the sum.
void resum(std::string& object) {
  const uint32_t payloadSize = loadLE32(reinterpret_cast<const uint8_t*>(object.data()) + 4);
  const size_t sumAt = kFrameHeader + payloadSize - 8;
  uint8_t sum[8];
  storeBE64(sum, fnv1a64({reinterpret_cast<const uint8_t*>(object.data()) + kFrameHeader,
                          sumAt - kFrameHeader}));
  std::memcpy(object.data() + sumAt, sum, sizeof sum);
}

void putBE64(std::string& s, size_t at, uint64_t v) {
  storeBE64(reinterpret_cast<uint8_t*>(s.data() + at), v);
}

void putBE32(std::string& s, size_t at, uint32_t v) {
  storeBE32(reinterpret_cast<uint8_t*>(s.data() + at), v);
}

bool sameSegments(const std::vector<WalObjectSegment>& a, const std::vector<WalObjectSegment>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].offset != b[i].offset || a[i].walBytes != b[i].walBytes || a[i].size != b[i].size ||
        a[i].capturedAtMs != b[i].capturedAtMs) {
      return false;
    }
  }
  return true;
}

}  // namespace

TEST_CASE("WAL objects of real WAL segments parse back, chain, and lz4 -dc gives the WAL") {
  TempDir dir;
  const std::vector<uint8_t> wal = makeRealWal(dir);
  const std::vector<WalSlice> slices = splitWalAtCommits(wal, 2);
  REQUIRE(slices.size() >= 4);
  // Two objects: the first two segments (from offset 0, with the WAL header), then the rest.
  const Segments first = compress(slices, 0, 2);
  const Segments rest = compress(slices, 2, slices.size() - 2);
  const std::string objects[] = {objectOf(first), objectOf(rest)};
  const Segments* segments[] = {&first, &rest};

  WalChainState chain;
  std::vector<std::string> paths;
  for (size_t o = 0; o < 2; ++o) {
    CAPTURE(o);
    const WalObjectView view = parseWalObject(asBytes(objects[o]));
    CHECK(view.header.start == Pos{kGeneration, 0, segments[o]->fields.front().offset});
    CHECK(view.header.previousIndexEnd == 0);
    CHECK(sameSegments(view.header.segments, segments[o]->fields));
    REQUIRE(view.segments.size() == segments[o]->frames.size());
    for (size_t i = 0; i < view.segments.size(); ++i) {
      CHECK(view.segments[i].data() >= asBytes(objects[o]).data());
      CHECK(std::string(reinterpret_cast<const char*>(view.segments[i].data()),
                        view.segments[i].size()) == segments[o]->frames[i]);
      // Every frame continues the chain of the one before, across objects too.
      const WalObjectSegment& s = view.header.segments[i];
      const std::string raw = lz4Decompress(view.segments[i], s.walBytes);
      const ParsedWalSegment parsed = parseWalSegment(asBytes(raw), s.offset, chain);
      CHECK(parsed.endOffset == s.offset + s.walBytes);
    }
    CHECK(view.header.endOffset() ==
          segments[o]->fields.back().offset + segments[o]->fields.back().walBytes);
    // The header decodes alone too, from a prefix of the object.
    const DecodedWalObjectHeader decoded = decodeWalObjectHeader(asBytes(objects[o]));
    CHECK(decoded.frameBytes == objects[o].size() - [&] {
      size_t n = 0;
      for (const std::string& f : segments[o]->frames) n += f.size();
      return n;
    }());
    paths.push_back(dir.file("object-" + std::to_string(o) + ".wal.lz4"));
    writeFileAtomic(paths.back(), objects[o]);
  }
  CHECK(rest.fields.back().offset + rest.fields.back().walBytes ==
        first.walBytes.size() + rest.walBytes.size());
  const std::string all = lz4DecompressFiles(paths, dir.file("lz4"));
  CHECK(all.size() == first.walBytes.size() + rest.walBytes.size());
  CHECK(all == std::string(wal.begin(), wal.begin() + static_cast<ptrdiff_t>(all.size())));
  // Just the second object: the WAL bytes from where it starts.
  CHECK(lz4DecompressFiles({paths[1]}, dir.file("lz4-rest")) ==
        std::string(rest.walBytes.begin(), rest.walBytes.end()));
}

TEST_CASE("WAL object header: round trip of every field") {
  WalObjectHeader h;
  h.start = {kGeneration, 7, 0};
  h.previousIndexEnd = 0x3068;
  h.segments = {{0, 4096 + 32, 900, -5}, {4128, 1056, 300, 1700000000123}};
  const std::string frame = encodeWalObjectHeader(h);
  CHECK(frame.size() == 8 + 44 + 2 * 32 + 8);
  // The tool's rule for skippable frames: little-endian magic, then the payload size.
  CHECK(loadLE32(asBytes(frame).data()) == 0x184D2A5D);
  CHECK(loadLE32(asBytes(frame).data() + 4) == frame.size() - 8);
  CHECK(frame.substr(8, 8) == "WSWAL001");
  std::string withMore = frame + "segment bytes follow";
  const DecodedWalObjectHeader d = decodeWalObjectHeader(asBytes(withMore));
  CHECK(d.frameBytes == frame.size());
  CHECK(d.header.start == h.start);
  CHECK(d.header.previousIndexEnd == h.previousIndexEnd);
  CHECK(sameSegments(d.header.segments, h.segments));
  CHECK(d.header.endOffset() == 4128 + 1056);
  CHECK(d.header.end() == Pos{kGeneration, 7, 5184});
}

TEST_CASE("WAL object header: the encoder refuses what no decoder would accept") {
  WalObjectHeader good;
  good.start = {kGeneration, 1, 4128};
  good.segments = {{4128, 1056, 300, 0}};
  REQUIRE_NOTHROW(encodeWalObjectHeader(good));
  auto refused = [](WalObjectHeader h, const std::string& expected) {
    CAPTURE(expected);
    try {
      encodeWalObjectHeader(h);
      FAIL("encoded");
    } catch (const Error& e) {
      CHECK(std::string(e.what()).find(expected) != std::string::npos);
      CHECK(std::string(e.what()).starts_with("cannot encode a WAL object header: "));
    }
  };
  WalObjectHeader h = good;
  h.segments.clear();
  refused(h, "no segments");
  h = good;
  h.start.generation = 0;
  refused(h, "generation 0");
  h = good;
  h.previousIndexEnd = 100;  // only at offset 0 of an index past 0
  refused(h, "previous index end 100");
  h = good;
  h.segments.push_back({4128 + 1056 + 1024, 1056, 300, 0});
  refused(h, "segment 1 (WAL offset 6208) does not start where the one before ends (5184)");
  h = good;
  h.segments[0].walBytes = 0;
  refused(h, "segment 0 (WAL offset 4128) holds no WAL bytes");
  h = good;
  h.segments[0].size = 0;
  refused(h, "compressed size of 0");
  h = good;
  h.segments[0].offset = 4096;
  refused(h, "segment 0 (WAL offset 4096) does not start where the one before ends (4128)");
}

TEST_CASE("WAL objects: every kind of damage is refused, naming what is wrong") {
  TempDir dir;
  const std::vector<uint8_t> wal = makeRealWal(dir);
  const std::vector<WalSlice> slices = splitWalAtCommits(wal, 3);
  REQUIRE(slices.size() >= 3);
  const Segments segments = compress(slices, 0, 3);
  const std::string object = objectOf(segments);
  REQUIRE(parseError(object) == "(no error)");
  const size_t headerBytes = kSegmentsAt + 3 * 32 + 8;
  const size_t segment1At = headerBytes + segments.fields[0].size;

  SUBCASE("a flipped byte anywhere in the header") {
    for (size_t at = 0; at < headerBytes; ++at) {
      CAPTURE(at);
      std::string bad = object;
      bad[at] ^= 0x10;
      const std::string error = parseError(bad);
      CHECK(error.starts_with("WAL object header: "));
      if (at >= 16 && at < headerBytes - 8)
        CHECK(error.find("FNV-1a sum mismatch") != std::string::npos);
    }
  }
  SUBCASE("a flipped byte in a segment frame's header, or in its content") {
    for (size_t at : {segment1At, segment1At + 4, segment1At + 6}) {
      CAPTURE(at);
      std::string bad = object;
      bad[at] ^= 0x01;
      CHECK(parseError(bad).starts_with("WAL object: segment 1 (WAL offset "));
    }
    // Parsing does not decompress: the frame's content checksum, and the WAL chain, catch the
    // rest when the segment is decompressed and applied.
    std::string bad = object;
    bad[segment1At + segments.fields[1].size - 1] ^= 0x01;
    const WalObjectView view = parseWalObject(asBytes(bad));
    CHECK_THROWS_AS(lz4Decompress(view.segments[1], segments.fields[1].walBytes), Error);
  }
  SUBCASE("truncated anywhere") {
    for (size_t size = 0; size < object.size(); size += size < headerBytes + 16 ? 1 : 97) {
      CAPTURE(size);
      const std::string error = parseError(object.substr(0, size));
      CHECK(error != "(no error)");
      if (size >= headerBytes) {
        CHECK(error.find("compressed bytes at object byte") != std::string::npos);
      }
    }
  }
  SUBCASE("trailing bytes") {
    CHECK(parseError(object + "x") == "WAL object: 1 bytes after its last segment (object byte " +
                                          std::to_string(object.size()) + ")");
  }
  SUBCASE("a lying segment count") {
    for (uint32_t count : {0u, 2u, 4u, 0xffffffffu}) {
      CAPTURE(count);
      std::string bad = object;
      putBE32(bad, kCountAt, count);
      resum(bad);
      CHECK(parseError(bad) == "WAL object header: segment count " + std::to_string(count) +
                                   " does not match the 96 bytes of segment fields (32 each)");
    }
  }
  SUBCASE("segments that overlap or leave a gap") {
    for (int64_t delta : {-1056, -1, 1, 1024}) {
      CAPTURE(delta);
      std::string bad = object;
      putBE64(bad, kSegmentsAt + 32, segments.fields[1].offset + static_cast<uint64_t>(delta));
      resum(bad);
      CHECK(parseError(bad).find("segment 1 (WAL offset " +
                                 std::to_string(segments.fields[1].offset + delta) +
                                 ") does not start where the one before ends (" +
                                 std::to_string(segments.fields[1].offset) +
                                 "): segments must be contiguous") != std::string::npos);
    }
  }
  SUBCASE("a compressed size that is not its frame's") {
    for (int delta : {-1, 1}) {
      CAPTURE(delta);
      std::string bad = object;
      putBE64(bad, kSegmentsAt + 32 + 16, segments.fields[1].size + delta);
      putBE64(bad, kSegmentsAt + 64 + 16, segments.fields[2].size - delta);
      resum(bad);
      const std::string error = parseError(bad);
      CHECK(error.starts_with("WAL object: segment 1 (WAL offset " +
                              std::to_string(segments.fields[1].offset) + "): "));
      CHECK(error.find(delta < 0 ? "not a whole LZ4 frame" : "its LZ4 frame ends after") !=
            std::string::npos);
    }
  }
  SUBCASE("WAL bytes that are not the frame's declared content size") {
    std::string bad = object;
    putBE64(bad, kSegmentsAt + 64 + 8, segments.fields[2].walBytes + 1024);
    resum(bad);
    CHECK(parseError(bad) ==
          "WAL object: segment 2 (WAL offset " + std::to_string(segments.fields[2].offset) +
              "): its LZ4 frame declares " + std::to_string(segments.fields[2].walBytes) +
              " bytes of content, the header " +
              std::to_string(segments.fields[2].walBytes + 1024) + " WAL bytes");
  }
  SUBCASE("another frame kind, another magic") {
    std::string bad = object;
    bad[0] = 0x5E;
    CHECK(parseError(bad) == "WAL object header: frame magic 0x184D2A5E, expected 0x184D2A5D");
    bad = object;
    bad[8 + 7] = '2';
    CHECK(parseError(bad) == "WAL object header: magic is not WSWAL001");
  }
}
