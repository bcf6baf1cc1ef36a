#include <doctest/doctest.h>

#include <cstring>
#include <limits>
#include <random>

#include "core/byte_order.h"
#include "core/error.h"
#include "core/file_util.h"
#include "core/lz4_codec.h"
#include "tests/support/lz4_tool.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;

namespace {

constexpr uint32_t kLz4FrameMagic = 0x184D2204;  // stored little-endian at the frame's start

std::string randomBytes(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

// Text-like data that compresses well but is not one repeated byte.
std::string compressibleBytes(size_t n) {
  std::string s;
  s.reserve(n);
  for (size_t i = 0; s.size() < n; ++i) s += "row " + std::to_string(i % 977) + " value;";
  s.resize(n);
  return s;
}

std::string errorOf(const std::string& compressed, size_t maxSize) {
  try {
    lz4Decompress(asBytes(compressed), maxSize);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("lz4 round trip: empty, small, 10 MB random and compressible") {
  struct Input {
    const char* name;
    std::string data;
    bool compressible = false;
  };
  const Input inputs[] = {
      {"empty", ""},
      {"one byte", "x"},
      {"small", std::string("SQLite format 3\0 and more", 25)},
      {"10 MB random", randomBytes(10 << 20, 1)},
      {"10 MB compressible", compressibleBytes(10 << 20), true},
  };
  for (const auto& in : inputs) {
    CAPTURE(in.name);
    std::string c = lz4Compress(asBytes(in.data));
    REQUIRE(c.size() >= 4);
    CHECK(loadLE32(reinterpret_cast<const uint8_t*>(c.data())) == kLz4FrameMagic);
    CHECK(lz4Decompress(asBytes(c), in.data.size()) == in.data);  // a bound of exactly the size
    CHECK(lz4Decompress(asBytes(c), std::numeric_limits<size_t>::max()) == in.data);
    if (in.compressible) CHECK(c.size() < in.data.size() / 4);
  }
}

TEST_CASE("lz4 output is the standard frame format: interop with the lz4 tool") {
  const std::string tool = lz4ToolPath();
  if (tool.empty()) {
    MESSAGE("lz4 command not installed: only the frame magic is checked (previous test)");
    return;
  }
  TempDir dir;
  for (size_t size : {size_t{0}, size_t{1000}, size_t{5u << 20}}) {
    CAPTURE(size);
    const std::string data = size == 1000 ? randomBytes(size, 7) : compressibleBytes(size);
    // Ours -> lz4 -d.
    writeFileAtomic(dir.file("ours.lz4"), lz4Compress(asBytes(data)));
    auto d = runToCompletion({tool, "-d", "-f", "-q", dir.file("ours.lz4"), dir.file("ours.out")},
                             dir.file("d"));
    CHECK(d.exitCode == 0);
    CHECK(d.err == "");
    CHECK(readFile(dir.file("ours.out")) == data);
    // lz4 (several settings) -> ours.
    const std::vector<std::vector<std::string>> settings = {
        {}, {"-9"}, {"-BD"}, {"-B4", "--no-frame-crc"}, {"--content-size"}};
    for (const auto& extra : settings) {
      writeFileAtomic(dir.file("plain"), data);
      std::vector<std::string> argv = {tool, "-z", "-f", "-q"};
      argv.insert(argv.end(), extra.begin(), extra.end());
      argv.push_back(dir.file("plain"));
      argv.push_back(dir.file("theirs.lz4"));
      auto c = runToCompletion(argv, dir.file("c"));
      REQUIRE(c.exitCode == 0);
      CHECK(lz4Decompress(asBytes(readFile(dir.file("theirs.lz4"))), data.size()) == data);
    }
  }
}

TEST_CASE("lz4Decompress rejects corrupt, truncated, trailing and oversized input") {
  const std::string data = compressibleBytes(300000) + randomBytes(100000, 3);
  const std::string c = lz4Compress(asBytes(data));
  REQUIRE(lz4Decompress(asBytes(c), data.size()) == data);

  SUBCASE("corrupt magic or frame header") {
    std::string bad = c;
    bad[0] ^= 0x01;
    CHECK(errorOf(bad, data.size()).find("corrupt lz4 data at compressed byte 0") == 0);
    bad = c;
    bad[5] ^= 0x20;  // frame descriptor (block size bits)
    CHECK(errorOf(bad, data.size()).find("corrupt lz4 data") == 0);
  }
  SUBCASE("corrupt block data is caught (content checksum, block decoding or end mark)") {
    for (size_t at : {c.size() / 3, c.size() / 2, c.size() - 6}) {
      CAPTURE(at);
      std::string bad = c;
      bad[at] ^= 0x5a;
      CHECK(errorOf(bad, data.size()).find("corrupt lz4 data at compressed byte ") == 0);
    }
  }
  SUBCASE("truncated anywhere") {
    const std::string small = lz4Compress(asBytes(std::string("a small segment of WAL bytes")));
    for (size_t keep = 0; keep < small.size(); ++keep) {
      CAPTURE(keep);
      CHECK_THROWS_AS(lz4Decompress(asBytes(small.substr(0, keep)), 1000), Error);
    }
    for (size_t keep : {size_t{4}, size_t{7}, c.size() / 2, c.size() - 4, c.size() - 1}) {
      CAPTURE(keep);
      std::string err = errorOf(c.substr(0, keep), data.size());
      CHECK(err.find("truncated lz4 frame") != std::string::npos);
    }
    CHECK(errorOf("", 10) == "truncated lz4 frame");
  }
  SUBCASE("trailing garbage, or a second frame") {
    CHECK(errorOf(c + "x", data.size()) ==
          "trailing bytes after lz4 frame at compressed byte " + std::to_string(c.size()));
    CHECK(errorOf(c + c, 2 * data.size()) ==
          "trailing bytes after lz4 frame at compressed byte " + std::to_string(c.size()));
  }
  SUBCASE("output larger than maxSize") {
    for (size_t maxSize : {size_t{0}, size_t{1}, size_t{65536}, data.size() - 1}) {
      CAPTURE(maxSize);
      CHECK(errorOf(c, maxSize) ==
            "lz4 data decompresses to more than " + std::to_string(maxSize) + " bytes");
    }
    const std::string empty = lz4Compress({});
    CHECK(lz4Decompress(asBytes(empty), 0).empty());
  }
}

TEST_CASE("Lz4Decompressor reuses one context for many frames and checks each") {
  Lz4Decompressor d;
  std::vector<uint8_t> out(12 << 20);
  for (const std::string& data : {compressibleBytes(5 << 20), std::string(), randomBytes(1000, 9),
                                  compressibleBytes(70000)}) {
    CAPTURE(data.size());
    const std::string c = lz4Compress(asBytes(data));
    // A content size of 0 is LZ4's "not declared".
    CHECK(lz4ContentSize(asBytes(c)) ==
          (data.empty() ? std::nullopt : std::optional<uint64_t>(data.size())));
    // Exactly the content's size (the last block goes through the context's buffer) and with
    // room for a whole block past it (decoded in place).
    for (size_t room : {data.size(), data.size() + kLz4MaxBlockSize}) {
      const size_t n = d.decompress(asBytes(c), {out.data(), room});
      REQUIRE(n == data.size());
      CHECK(std::string(reinterpret_cast<const char*>(out.data()), n) == data);
    }
  }
  const std::string data = compressibleBytes(300000);
  const std::string c = lz4Compress(asBytes(data));
  std::string bad = c;
  bad[bad.size() / 2] ^= 0x10;
  CHECK_THROWS_AS(d.decompress(asBytes(bad), {out.data(), out.size()}), Error);
  CHECK_THROWS_AS(d.decompress(asBytes(c).first(c.size() - 3), {out.data(), out.size()}), Error);
  CHECK_THROWS_AS(d.decompress(asBytes(c), {out.data(), data.size() - 1}), Error);
  CHECK_THROWS_AS(d.decompress(asBytes(c + "x"), {out.data(), out.size()}), Error);
  // A failed frame leaves the context usable.
  CHECK(d.decompress(asBytes(c), {out.data(), out.size()}) == data.size());

  CHECK_FALSE(lz4ContentSize(asBytes(std::string("not an lz4 frame at all"))));
  bad = c;
  bad[0] ^= 0x01;
  CHECK_FALSE(lz4ContentSize(asBytes(bad)));
}

TEST_CASE("Lz4Decompressor without checksums still decodes and refuses malformed frames") {
  Lz4Decompressor d(/*verifyChecksums=*/false);
  std::vector<uint8_t> out(1 << 20);
  const std::string data = compressibleBytes(300000);
  const std::string c = lz4Compress(asBytes(data));
  REQUIRE(d.decompress(asBytes(c), {out.data(), out.size()}) == data.size());
  CHECK(std::string(reinterpret_cast<const char*>(out.data()), data.size()) == data);
  CHECK_THROWS_AS(d.decompress(asBytes(c).first(c.size() / 2), {out.data(), out.size()}), Error);
  CHECK_THROWS_AS(d.decompress(asBytes(c), {out.data(), data.size() / 2}), Error);
  std::string bad = c;
  bad[0] ^= 0x01;
  CHECK_THROWS_AS(d.decompress(asBytes(bad), {out.data(), out.size()}), Error);
}

TEST_CASE("Lz4Decompressor reports progress in bounded steps, and a throwing callback stops it") {
  // 40 MiB, compressible: many steps of at most kLz4ProgressStep each.
  std::string data(size_t{40} << 20, '\0');
  std::mt19937 rng(3);
  for (size_t i = 0; i < data.size(); i += 4096) data[i] = static_cast<char>(rng());
  const std::string packed = lz4Compress(asBytes(data));
  Lz4Decompressor d(/*verifyChecksums=*/false);
  std::vector<uint8_t> out(data.size() + kLz4MaxBlockSize);
  std::vector<size_t> steps;
  const size_t n =
      d.decompress(asBytes(packed), out, [&](size_t written) { steps.push_back(written); });
  REQUIRE(n == data.size());
  CHECK(std::memcmp(out.data(), data.data(), n) == 0);
  REQUIRE(steps.size() >= data.size() / kLz4ProgressStep);
  size_t last = 0;
  for (size_t w : steps) {
    CHECK(w - last <= kLz4ProgressStep);
    last = w;
  }
  CHECK(last == data.size());

  size_t seen = 0;
  CHECK_THROWS_AS(d.decompress(asBytes(packed), out,
                               [&](size_t written) {
                                 seen = written;
                                 if (written > 0) throw Error("enough");
                               }),
                  Error);
  CHECK(seen <= kLz4ProgressStep);
  // The context is usable again after an abandoned frame.
  CHECK(d.decompress(asBytes(packed), out) == data.size());
}

TEST_CASE("lz4FrameExtent measures one frame among others, without decompressing") {
  const std::string a = lz4Compress(asBytes(compressibleBytes(300000)));
  const std::string b = lz4Compress(asBytes(randomBytes(5000, 9)));
  const std::string both = a + b;
  const std::optional<Lz4FrameExtent> first = lz4FrameExtent(asBytes(both));
  REQUIRE(first.has_value());
  CHECK(first->bytes == a.size());
  CHECK(first->contentSize == 300000);
  CHECK(first->contentChecksum);
  const std::optional<Lz4FrameExtent> second = lz4FrameExtent(asBytes(both).subspan(a.size()));
  REQUIRE(second.has_value());
  CHECK(second->bytes == b.size());
  CHECK(second->contentSize == 5000);
  // A frame cut short anywhere is no whole frame.
  for (size_t cut : {size_t{0}, size_t{6}, size_t{20}, a.size() / 2, a.size() - 1}) {
    CAPTURE(cut);
    CHECK_FALSE(lz4FrameExtent(asBytes(a).first(cut)).has_value());
  }

  const std::string tool = lz4ToolPath();
  if (tool.empty()) {
    MESSAGE("lz4 command not installed: frames without checksum or size not checked");
    return;
  }
  TempDir dir;
  writeFileAtomic(dir.file("plain"), compressibleBytes(1000));
  auto c = runToCompletion(
      {tool, "-z", "-f", "-q", "--no-frame-crc", dir.file("plain"), dir.file("bare.lz4")},
      dir.file("c"));
  REQUIRE(c.exitCode == 0);
  const std::string bare = readFile(dir.file("bare.lz4"));
  const std::optional<Lz4FrameExtent> extent = lz4FrameExtent(asBytes(bare));
  REQUIRE(extent.has_value());
  CHECK(extent->bytes == bare.size());
  CHECK_FALSE(extent->contentChecksum);
  CHECK_FALSE(extent->contentSize.has_value());
}
