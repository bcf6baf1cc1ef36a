#include <doctest/doctest.h>

#include <chrono>
#include <filesystem>

#include "core/error.h"
#include "core/file_util.h"
#include "core/lz4_codec.h"
#include "server/capture/shadow_wal.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;

namespace {

constexpr uint64_t kGen = 0x00000000000000abULL;

std::vector<Pos> positions(const std::vector<SegmentInfo>& infos) {
  std::vector<Pos> out;
  for (const auto& i : infos) out.push_back(i.pos);
  return out;
}

std::string payload(const Pos& p) {
  return "segment " + p.str();
}

// Writes a segment whose (uncompressed) content names its position.
SegmentInfo put(const ShadowWal& shadow, const Pos& p) {
  std::string raw = payload(p);
  return shadow.writeSegment(p, lz4Compress(asBytes(raw)), raw.size());
}

}  // namespace

TEST_CASE("shadow WAL paths and names are as documented") {
  TempDir dir;
  ShadowWal shadow(dir.file("app.db-walstream"));
  const std::string root = dir.file("app.db-walstream");
  CHECK(shadow.root() == root);
  CHECK(shadow.generationDir(kGen) == root + "/generations/00000000000000ab");
  CHECK(shadow.indexDir(kGen, 3) == root + "/generations/00000000000000ab/wal/0000000000000003");
  CHECK(shadow.segmentPath({kGen, 3, 0x1f60}) ==
        root + "/generations/00000000000000ab/wal/0000000000000003/0000000000001f60.wal.lz4");
  CHECK(shadow.segmentPath({0xffffffffffffffffULL, 0, 0}) ==
        root + "/generations/ffffffffffffffff/wal/0000000000000000/0000000000000000.wal.lz4");

  shadow.writeGeneration(kGen);
  CHECK(readFile(root + "/generation") == "00000000000000ab\n");
  CHECK(shadow.positionPath() == root + "/position");
  CHECK_FALSE(pathExists(root + "/generation.tmp"));
}

TEST_CASE("written segments are listed in (index, offset) order with their sizes") {
  TempDir dir;
  ShadowWal shadow(dir.file("app.db-walstream"));
  // Written out of order, and with offsets whose text order differs from numeric order only if
  // they were not zero padded.
  const std::vector<Pos> written = {{kGen, 2, 0},       {kGen, 2, 0x1038}, {kGen, 1, 0},
                                    {kGen, 1, 0x20a0},  {kGen, 1, 0x1038}, {kGen, 10, 0},
                                    {kGen, 2, 0x100000}};
  for (const Pos& p : written) {
    SegmentInfo info = put(shadow, p);
    CHECK(info.pos == p);
    REQUIRE(info.data != nullptr);
    CHECK(info.size == info.data->size());
    CHECK(info.walBytes == payload(p).size());
    CHECK(readFile(shadow.segmentPath(p)) == *info.data);
    CHECK_FALSE(pathExists(shadow.segmentPath(p) + ".tmp"));
  }
  // A second generation, to show listings stay inside one.
  put(shadow, {kGen + 1, 1, 0});

  CHECK(shadow.listGenerations() == std::vector<uint64_t>{kGen, kGen + 1});
  CHECK(shadow.listIndexes(kGen) == std::vector<uint64_t>{1, 2, 10});
  std::vector<SegmentInfo> index1 = shadow.listSegments(kGen, 1);
  CHECK(positions(index1) == std::vector<Pos>{{kGen, 1, 0}, {kGen, 1, 0x1038}, {kGen, 1, 0x20a0}});
  for (const auto& s : index1) {
    CHECK(s.data == nullptr);
    CHECK(s.walBytes == payload(s.pos).size());  // from the frame header
    std::string compressed = shadow.readSegment(s.pos);
    CHECK(s.size == compressed.size());
    CHECK(lz4Decompress(asBytes(compressed), 1000) == payload(s.pos));
  }
  CHECK(shadow.listSegments(kGen, 3).empty());
  CHECK(shadow.listSegments(kGen + 7, 1).empty());

  CHECK(positions(shadow.listSegmentsFrom({kGen, 0, 0})) == std::vector<Pos>{{kGen, 1, 0},
                                                                             {kGen, 1, 0x1038},
                                                                             {kGen, 1, 0x20a0},
                                                                             {kGen, 2, 0},
                                                                             {kGen, 2, 0x1038},
                                                                             {kGen, 2, 0x100000},
                                                                             {kGen, 10, 0}});
  CHECK(positions(shadow.listSegmentsFrom({kGen, 1, 0x1038})) ==
        std::vector<Pos>{{kGen, 1, 0x1038},
                         {kGen, 1, 0x20a0},
                         {kGen, 2, 0},
                         {kGen, 2, 0x1038},
                         {kGen, 2, 0x100000},
                         {kGen, 10, 0}});
  CHECK(positions(shadow.listSegmentsFrom({kGen, 2, 0x1039})) ==
        std::vector<Pos>{{kGen, 2, 0x100000}, {kGen, 10, 0}});
  CHECK(positions(shadow.listSegmentsFrom({kGen, 11, 0})).empty());
  CHECK(positions(shadow.listSegmentsFrom({kGen + 1, 0, 0})) == std::vector<Pos>{{kGen + 1, 1, 0}});
}

TEST_CASE("a segment at a non-zero offset of a new index gets its directory") {
  TempDir dir;
  ShadowWal shadow(dir.file("app.db-walstream"));
  put(shadow, {kGen, 4, 0x1038});
  CHECK(positions(shadow.listSegments(kGen, 4)) == std::vector<Pos>{{kGen, 4, 0x1038}});
}

TEST_CASE("a segment records when it was captured; a listed one, when its file was written") {
  TempDir dir;
  ShadowWal shadow(dir.file("app.db-walstream"));
  const auto nowMs = [] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  const int64_t before = nowMs();
  const SegmentInfo written = put(shadow, {kGen, 0, 0});
  const int64_t after = nowMs();
  CHECK(written.capturedAtMs >= before);
  CHECK(written.capturedAtMs <= after);
  // Back-date the file: a listing reports its modification time.
  const std::string path = shadow.segmentPath({kGen, 0, 0});
  const auto old = std::filesystem::file_time_type::clock::now() - std::chrono::hours(3);
  std::filesystem::last_write_time(path, old);
  const std::vector<SegmentInfo> listed = shadow.listSegments(kGen, 0);
  REQUIRE(listed.size() == 1);
  const int64_t threeHoursMs = 3 * 3600 * 1000;
  CHECK(listed[0].capturedAtMs >= before - threeHoursMs - 1000);
  CHECK(listed[0].capturedAtMs <= after - threeHoursMs + 1000);
}

TEST_CASE("a segment that cannot be written leaves no .tmp and names the path") {
  TempDir dir;
  ShadowWal shadow(dir.file("app.db-walstream"));
  const Pos p{kGen, 1, 0x1038};
  makeDirs(shadow.segmentPath(p) + "/in-the-way");  // a directory where the segment goes
  try {
    put(shadow, p);
    FAIL("writeSegment succeeded over a directory");
  } catch (const Error& e) {
    CHECK(std::string(e.what()) == "cannot rename " + shadow.segmentPath(p) + ".tmp to " +
                                       shadow.segmentPath(p) + ": Is a directory");
  }
  CHECK_FALSE(pathExists(shadow.segmentPath(p) + ".tmp"));
}

TEST_CASE("stray files in the shadow WAL are ignored by listings") {
  TempDir dir;
  ShadowWal shadow(dir.file("app.db-walstream"));
  put(shadow, {kGen, 1, 0});
  put(shadow, {kGen, 1, 0x1038});
  const std::string idx = shadow.indexDir(kGen, 1);
  // A crash between write and rename leaves a .tmp; people leave other things.
  for (const char* junk :
       {"0000000000002070.wal.lz4.tmp", "0000000000002070.wal", "0000000000002070",
        "000000000000207.wal.lz4", "00000000000020700.wal.lz4", "000000000000207G.wal.lz4",
        "00000000000020A0.wal.lz4", "notes.txt", ".hidden"}) {
    writeFileAtomic(idx + "/" + junk, "junk");
  }
  makeDirs(idx + "/0000000000003000.wal.lz4.d");
  makeDirs(shadow.generationDir(kGen) + "/wal/zzzz");
  makeDirs(shadow.generationDir(kGen) + "/wal/00000000000000FF");
  writeFileAtomic(shadow.generationDir(kGen) + "/wal/0000000000000009.tmp", "junk");
  makeDirs(shadow.root() + "/generations/not-a-generation");
  makeDirs(shadow.root() + "/generations/00000000000000AB");

  CHECK(positions(shadow.listSegments(kGen, 1)) ==
        std::vector<Pos>{{kGen, 1, 0}, {kGen, 1, 0x1038}});
  CHECK(shadow.listIndexes(kGen) == std::vector<uint64_t>{1});
  CHECK(shadow.listGenerations() == std::vector<uint64_t>{kGen});
  CHECK(positions(shadow.listSegmentsFrom({kGen, 0, 0})) ==
        std::vector<Pos>{{kGen, 1, 0}, {kGen, 1, 0x1038}});
  // Nothing at all on disk yet: empty listings, not errors.
  ShadowWal none(dir.file("missing"));
  CHECK(none.listGenerations().empty());
  CHECK(none.listIndexes(kGen).empty());
  CHECK(none.listSegmentsFrom({kGen, 0, 0}).empty());
}

TEST_CASE("readGeneration: missing, valid, garbage") {
  TempDir dir;
  ShadowWal shadow(dir.file("app.db-walstream"));
  CHECK_FALSE(shadow.readGeneration().has_value());
  shadow.writeGeneration(0xfedcba9876543210ULL);
  CHECK(shadow.readGeneration() == 0xfedcba9876543210ULL);

  const std::string file = shadow.root() + "/generation";
  writeFileAtomic(file, "00000000000000ab");  // no newline is fine
  CHECK(shadow.readGeneration() == kGen);
  for (const char* garbage : {"", "\n", "hello\n", "00000000000000AB\n", "00000000000000ab0\n",
                              "ab\n", "0000000000000000\n", "\x01\x02garbage\xff"}) {
    CAPTURE(garbage);
    writeFileAtomic(file, garbage);
    CHECK_FALSE(shadow.readGeneration().has_value());
  }
  CHECK_THROWS_AS(shadow.readSegment({kGen, 1, 0}), Error);
}

TEST_CASE("removeOld removes other generations and indexes below the bound") {
  TempDir dir;
  ShadowWal shadow(dir.file("app.db-walstream"));
  for (uint64_t index : {1, 2, 3, 4}) {
    put(shadow, {kGen, index, 0});
    put(shadow, {kGen, index, 0x1038});
  }
  put(shadow, {kGen - 1, 7, 0});
  put(shadow, {kGen + 1, 1, 0});
  shadow.writeGeneration(kGen);
  makeDirs(shadow.root() + "/generations/not-a-generation");

  CHECK(shadow.removeOld(kGen, 3) == 2 + 2);
  CHECK(shadow.listGenerations() == std::vector<uint64_t>{kGen});
  CHECK(shadow.listIndexes(kGen) == std::vector<uint64_t>{3, 4});
  CHECK_FALSE(pathExists(shadow.generationDir(kGen - 1)));
  CHECK_FALSE(pathExists(shadow.indexDir(kGen, 2)));
  CHECK(pathExists(shadow.root() + "/generations/not-a-generation"));  // not ours to remove
  CHECK(shadow.readGeneration() == kGen);
  CHECK(positions(shadow.listSegmentsFrom({kGen, 0, 0})) ==
        std::vector<Pos>{{kGen, 3, 0}, {kGen, 3, 0x1038}, {kGen, 4, 0}, {kGen, 4, 0x1038}});
  CHECK(lz4Decompress(asBytes(shadow.readSegment({kGen, 4, 0x1038})), 1000) ==
        payload({kGen, 4, 0x1038}));

  CHECK(shadow.removeOld(kGen, 3) == 0);  // idempotent
  CHECK(shadow.removeOld(kGen, 100) == 2);
  CHECK(shadow.listIndexes(kGen).empty());
  CHECK(shadow.listGenerations() == std::vector<uint64_t>{kGen});
}

TEST_CASE("a segment written through a spare file lands at its name and consumes the spare") {
  TempDir dir;
  ShadowWal shadow(dir.file("app.db-walstream"));
  SegmentFilePool pool(shadow.root() + "/spare");
  SpareFile spare = pool.take();
  REQUIRE(spare.fd.valid());
  CHECK(pathExists(spare.path));
  const std::string compressed = lz4Compress(asBytes(std::string(5000, 'w')));
  const SegmentInfo info = shadow.writeSegment({kGen, 0, 0}, compressed, 5000, &spare);
  CHECK_FALSE(spare.fd.valid());
  CHECK(listDir(shadow.root() + "/spare").empty());
  CHECK(shadow.readSegment(info.pos) == compressed);
  CHECK(shadow.listSegments(kGen, 0).size() == 1);
  // Without a spare (or with a consumed one) the segment file is created on the spot.
  const SegmentInfo next = shadow.writeSegment({kGen, 0, 5000}, compressed, 5000, &spare);
  CHECK(shadow.readSegment(next.pos) == compressed);
}

TEST_CASE("segment files of removed indexes are pooled, and reused only after a quarantine") {
  TempDir dir;
  ShadowWal shadow(dir.file("app.db-walstream"));
  SegmentFilePool pool(shadow.root() + "/spare");
  const std::string compressed = lz4Compress(asBytes(std::string(3000, 'p')));
  shadow.writeSegment({kGen, 0, 0}, compressed, 3000);
  shadow.writeSegment({kGen, 0, 3000}, compressed, 3000);
  shadow.writeSegment({kGen, 1, 0}, compressed, 3000);
  CHECK(shadow.removeOld(kGen, 1, &pool) == 1);
  CHECK(shadow.listIndexes(kGen) == std::vector<uint64_t>{1});
  CHECK(pool.size() == 2);
  CHECK(listDir(shadow.root() + "/spare").size() == 2);
  // Just retired: a new file is made rather than one a reader may still have open.
  SpareFile fresh = pool.take();
  CHECK(pool.size() == 2);
  CHECK(readFile(fresh.path).empty());

  // A pool found on disk (left by an earlier run) is reusable at once.
  SegmentFilePool reopened(shadow.root() + "/spare");
  CHECK(reopened.size() == 3);
  SpareFile reused = reopened.take();
  CHECK(reopened.size() == 2);
  const SegmentInfo s = shadow.writeSegment({kGen, 1, 3000}, compressed, 3000, &reused);
  CHECK(shadow.readSegment(s.pos) == compressed);
  CHECK(listDir(shadow.root() + "/spare").size() == 2);
  // Filled ahead: new empty files, usable at once.
  CHECK(reopened.refillWanted());
  reopened.fill();
  CHECK(reopened.size() == SegmentFilePool::kTarget);
  CHECK(listDir(shadow.root() + "/spare").size() == SegmentFilePool::kTarget);
  CHECK_FALSE(reopened.refillWanted());
  CHECK(readFile(reopened.take().path).empty());
}

TEST_CASE("a pooled file is written over: the segment ends where its bytes end") {
  TempDir dir;
  ShadowWal shadow(dir.file("app.db-walstream"));
  // Incompressible, so the retired file is far longer than the segment written over it.
  std::string noise(20000, '\0');
  uint32_t x = 12345;
  for (char& c : noise) c = static_cast<char>((x = x * 1103515245 + 12345) >> 24);
  const std::string longSegment = lz4Compress(asBytes(noise));
  shadow.writeSegment({kGen, 0, 0}, longSegment, noise.size());
  {
    SegmentFilePool pool(shadow.root() + "/spare");
    CHECK(shadow.removeOld(kGen, 1, &pool) == 1);
  }
  SegmentFilePool reopened(shadow.root() + "/spare");  // no quarantine for a pool found on disk
  SpareFile reused = reopened.take();
  REQUIRE(reused.fd.valid());
  // Taken with its old bytes: truncating it to 0 would free and reallocate its blocks.
  CHECK(fileSize(reused.fd.get(), reused.path) == longSegment.size());
  const std::string raw = payload({kGen, 1, 0});
  const std::string shortSegment = lz4Compress(asBytes(raw));
  const SegmentInfo s = shadow.writeSegment({kGen, 1, 0}, shortSegment, raw.size(), &reused);
  const std::string path = shadow.segmentPath(s.pos);
  CHECK(readFile(path) == shortSegment);
  const std::vector<SegmentInfo> listed = shadow.listSegments(kGen, 1);
  REQUIRE(listed.size() == 1);
  CHECK(listed[0].walBytes == raw.size());
  CHECK(lz4Decompress(asBytes(shadow.readSegment(s.pos)), 1 << 20) == raw);
}

TEST_CASE("a segment file holding several segments lists, reads and cuts them one by one") {
  TempDir dir;
  ShadowWal shadow(dir.file("app.db-walstream"));
  // Three consecutive segments of index 2, stored in one file named after the first.
  std::vector<SegmentInfo> segs;
  std::vector<std::string> raws = {std::string(3000, 'a'), std::string(700, 'b'),
                                   std::string(12000, 'c')};
  uint64_t offset = 0x1000;
  for (const std::string& raw : raws) {
    segs.push_back(ShadowWal::newSegment({kGen, 2, offset}, lz4Compress(asBytes(raw)), raw.size()));
    offset += raw.size();
  }
  shadow.storeSegments(segs);
  CHECK(listDir(shadow.indexDir(kGen, 2)) == std::vector<std::string>{"0000000000001000.wal.lz4"});
  CHECK(segs[1].fileOffset == 0x1000);
  CHECK(segs[1].byteOffset == segs[0].size);
  put(shadow, {kGen, 2, offset});  // a later file

  const auto listed = shadow.listSegments(kGen, 2);
  CHECK(positions(listed) == std::vector<Pos>{{kGen, 2, 0x1000},
                                              {kGen, 2, 0x1000 + 3000},
                                              {kGen, 2, 0x1000 + 3700},
                                              {kGen, 2, offset}});
  for (size_t i = 0; i < raws.size(); ++i) {
    CAPTURE(i);
    CHECK(listed[i].walBytes == raws[i].size());
    CHECK(listed[i].size == segs[i].size);
    CHECK(lz4Decompress(asBytes(shadow.readSegmentData(listed[i])), 1 << 20) == raws[i]);
    CHECK(shadow.readSegment(listed[i].pos) == *segs[i].data);
  }
  CHECK_THROWS_AS(shadow.readSegment({kGen, 2, 0x1000 + 1}), Error);  // not a segment start

  // Segments that do not follow each other cannot share a file.
  auto gap = ShadowWal::newSegment({kGen, 3, 0}, lz4Compress(asBytes(raws[0])), 3000);
  auto after = ShadowWal::newSegment({kGen, 3, 3001}, lz4Compress(asBytes(raws[1])), 700);
  std::vector<SegmentInfo> bad = {gap, after};
  CHECK_THROWS_AS(shadow.storeSegments(bad), Error);

  // A damaged tail inside a file: the file is cut before it, later files go.
  shadow.removeSegmentsFrom({kGen, 2, 0x1000 + 3000});
  CHECK(positions(shadow.listSegments(kGen, 2)) == std::vector<Pos>{{kGen, 2, 0x1000}});
  CHECK(std::filesystem::file_size(shadow.segmentPath({kGen, 2, 0x1000})) == segs[0].size);
}

TEST_CASE("a segment file damaged in its middle lists the segments before the damage") {
  TempDir dir;
  ShadowWal shadow(dir.file("app.db-walstream"));
  std::vector<SegmentInfo> segs;
  for (uint64_t i = 0; i < 3; ++i) {
    const std::string raw(1000, static_cast<char>('x' + i));
    segs.push_back(ShadowWal::newSegment({kGen, 0, 1000 * i}, lz4Compress(asBytes(raw)), 1000));
  }
  shadow.storeSegments(segs);
  const std::string path = shadow.segmentPath({kGen, 0, 0});
  std::string bytes = readFile(path);
  const size_t second = segs[1].byteOffset;
  SUBCASE("a bad magic number") {
    bytes[second] ^= 0x01;
  }
  SUBCASE("truncated inside the second segment") {
    bytes.resize(second + segs[1].size / 2);
  }
  writeFileAtomic(path, bytes);
  const auto listed = shadow.listSegments(kGen, 0);
  REQUIRE(listed.size() == 2);
  CHECK(listed[0].pos == segs[0].pos);
  CHECK(lz4Decompress(asBytes(shadow.readSegmentData(listed[0])), 1 << 20) ==
        std::string(1000, 'x'));
  // The rest of the file is one segment that does not decompress.
  CHECK(listed[1].pos == segs[1].pos);
  CHECK(listed[1].size == bytes.size() - second);
  CHECK_THROWS_AS(lz4Decompress(asBytes(shadow.readSegmentData(listed[1])), 1 << 20), Error);
}

TEST_CASE("readSegmentRun reads consecutive segments of one file at once, and only those") {
  TempDir dir;
  ShadowWal shadow(dir.file("app.db-walstream"));
  std::vector<SegmentInfo> segs;
  for (uint64_t i = 0; i < 4; ++i) {
    const std::string raw(500 + 100 * i, static_cast<char>('k' + i));
    const uint64_t at = segs.empty() ? 0 : segs.back().pos.offset + segs.back().walBytes;
    segs.push_back(ShadowWal::newSegment({kGen, 0, at}, lz4Compress(asBytes(raw)), raw.size()));
  }
  shadow.storeSegments(segs);
  const auto listed = shadow.listSegments(kGen, 0);
  REQUIRE(listed.size() == 4);
  const auto run = shadow.readSegmentRun(std::span(listed).subspan(1, 3));
  REQUIRE(run.size() == 3);
  for (size_t i = 0; i < 3; ++i) CHECK(run[i] == *segs[i + 1].data);
  CHECK(shadow.readSegmentRun({}).empty());
  // Not consecutive in the file: refused rather than read wrong.
  std::vector<SegmentInfo> gap = {listed[0], listed[2]};
  CHECK_THROWS_AS(shadow.readSegmentRun(gap), Error);
  // A file cut short is reported.
  std::filesystem::resize_file(shadow.segmentPath({kGen, 0, 0}), listed[3].byteOffset + 1);
  CHECK_THROWS_AS(shadow.readSegmentRun(std::span(listed).subspan(2, 2)), Error);
}
