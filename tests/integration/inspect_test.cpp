// `walstream inspect` on streams built from a real SQLite WAL: the WAL of a database with
// autocheckpoint off is cut at commit boundaries into lz4 segments, behind a snapshot of the
// database file, exactly as a primary streams them.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sqlite3.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "core/byte_order.h"
#include "core/file_util.h"
#include "core/lz4_codec.h"
#include "core/pos.h"
#include "core/sqlite_conn.h"
#include "proto/heartbeat.h"
#include "proto/stream_record.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::proto;
using namespace walstream::test;

namespace {

constexpr uint64_t kGen = 0x00c0ffee00000001ULL;  // leading zero digits on purpose
constexpr uint32_t kPageSize = 4096;
constexpr uint64_t kFrameSize = kPageSize + 24;

// A WAL-mode database whose WAL holds four transactions, read while its connection is open (a
// last close would checkpoint and delete the WAL).
struct WalFixture {
  std::string db;                 // the database file, as of WAL offset 0
  std::string wal;                // the -wal file
  std::vector<uint64_t> commits;  // WAL offset just after each commit frame
};

std::string readAll(int fd, const std::string& path) {
  std::string out(fileSize(fd, path), '\0');
  out.resize(preadFull(fd, out.data(), out.size(), 0, path));
  return out;
}

WalFixture makeWal(const TempDir& dir) {
  const std::string path = dir.file("app.db");
  WalFixture f;
  // Opened while the connection lives and closed after it (file_util.h: closing a descriptor
  // would drop SQLite's locks).
  UniqueFd dbFd, walFd;
  {
    SqliteConnection conn(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    conn.exec("PRAGMA page_size=4096");
    conn.exec("CREATE TABLE t(a INTEGER PRIMARY KEY, b)");
    conn.exec("INSERT INTO t VALUES(0, 'zero')");
    CHECK(conn.queryText("PRAGMA journal_mode=WAL") == "wal");
    conn.exec("PRAGMA wal_autocheckpoint=0");
    dbFd = openFile(path, O_RDONLY);
    conn.exec("INSERT INTO t VALUES(1, 'one')");
    conn.exec("INSERT INTO t VALUES(2, randomblob(10000))");  // overflow pages, grows the file
    conn.exec("UPDATE t SET b = 'uno' WHERE a = 1");
    conn.exec("INSERT INTO t VALUES(3, 'three')");
    walFd = openFile(path + "-wal", O_RDONLY);
    f.db = readAll(dbFd.get(), path);
    f.wal = readAll(walFd.get(), path + "-wal");
  }
  REQUIRE(f.wal.size() > kWalHeaderSize);
  REQUIRE((f.wal.size() - kWalHeaderSize) % kFrameSize == 0);
  for (uint64_t off = kWalHeaderSize; off < f.wal.size(); off += kFrameSize) {
    if (loadBE32(reinterpret_cast<const uint8_t*>(f.wal.data()) + off + 4) != 0) {
      f.commits.push_back(off + kFrameSize);
    }
  }
  REQUIRE(f.commits.size() == 4);
  REQUIRE(f.commits.back() == f.wal.size());
  return f;
}

const uint8_t* bytesAt(const std::string& s, uint64_t off) {
  return reinterpret_cast<const uint8_t*>(s.data()) + off;
}

// Frame counts of WAL bytes [from, to), read straight from the frame headers.
std::string frameSummary(const WalFixture& f, uint64_t from, uint64_t to) {
  size_t frames = 0, commits = 0;
  std::set<uint32_t> pages;
  for (uint64_t off = from == 0 ? kWalHeaderSize : from; off < to; off += kFrameSize) {
    ++frames;
    if (loadBE32(bytesAt(f.wal, off + 4)) != 0) ++commits;
    pages.insert(loadBE32(bytesAt(f.wal, off)));
  }
  return "frames=" + std::to_string(frames) + " commits=" + std::to_string(commits) +
         " pages=" + std::to_string(pages.size());
}

// The running checksum after the frame that ends at `end`: that frame's stored checksum.
Checksum checksumAt(const WalFixture& f, uint64_t end) {
  const uint8_t* h = bytesAt(f.wal, end - kFrameSize);
  return {loadBE32(h + 16), loadBE32(h + 20)};
}

// The database as of WAL offset `end`: the file overlaid with the frames before it, cut to the
// page count of the last commit.
std::string imageAt(const WalFixture& f, uint64_t end) {
  std::string img = f.db;
  uint32_t pages = 0;
  for (uint64_t off = kWalHeaderSize; off < end; off += kFrameSize) {
    const uint32_t pgno = loadBE32(bytesAt(f.wal, off));
    const uint64_t at = uint64_t{pgno - 1} * kPageSize;
    if (img.size() < at + kPageSize) img.resize(at + kPageSize, '\0');
    img.replace(at, kPageSize, f.wal, off + 24, kPageSize);
    if (uint32_t commit = loadBE32(bytesAt(f.wal, off + 4)); commit != 0) pages = commit;
  }
  img.resize(uint64_t{pages} * kPageSize);
  return img;
}

struct StreamBuilder {
  std::string bytes;
  std::vector<uint64_t> recordOffsets;

  void add(RecordType type, uint64_t index, uint64_t offset, const std::string& payload) {
    recordOffsets.push_back(bytes.size());
    const auto header =
        StreamRecordHeader::of(type, Pos{kGen, index, offset}, payload.size()).encode();
    bytes.append(reinterpret_cast<const char*>(header.data()), header.size());
    bytes += payload;
  }
  void segment(const WalFixture& f, uint64_t from, uint64_t to) {
    add(RecordType::kWalSegment, 0, from,
        lz4Compress(std::span<const uint8_t>(bytesAt(f.wal, from), to - from)));
  }
  void heartbeat(uint64_t offset, uint64_t unixMicros, Checksum checksum) {
    const auto p = HeartbeatPayload{unixMicros, checksum}.encode();
    add(RecordType::kHeartbeat, 0, offset, std::string(p.begin(), p.end()));
  }
  uint64_t payloadOffset(size_t record) const { return recordOffsets.at(record) + 40; }
  uint64_t payloadSize(size_t record) const {
    const uint64_t end =
        record + 1 < recordOffsets.size() ? recordOffsets[record + 1] : bytes.size();
    return end - payloadOffset(record);
  }
};

std::string posText(uint64_t offset) {
  return Pos{kGen, 0, offset}.str();
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t nl; (nl = text.find('\n', start)) != std::string::npos; start = nl + 1) {
    out.push_back(text.substr(start, nl - start));
  }
  if (start < text.size()) out.push_back(text.substr(start));
  return out;
}

RunResult inspect(const TempDir& dir, const std::string& name, const std::string& stream,
                  std::vector<std::string> extraArgs = {}) {
  std::vector<std::string> argv = {WALSTREAM_BINARY, "inspect"};
  argv.insert(argv.end(), extraArgs.begin(), extraArgs.end());
  return runToCompletion(argv, dir.file(name), std::chrono::seconds(30), stream);
}

std::string hex8(uint32_t v) {
  char buf[9];
  std::snprintf(buf, sizeof buf, "%08x", v);
  return buf;
}

// The stream a primary sends to a new replica: snapshot at the start of the WAL, then the three
// segments (the middle one with two transactions) with a heartbeat before the last.
struct FullStream {
  WalFixture wal;
  StreamBuilder stream;
  std::vector<std::string> expected;
};

constexpr uint64_t kHeartbeatMicros = 1'700'000'000'123'456ULL;

FullStream makeFullStream(const TempDir& dir) {
  FullStream s;
  s.wal = makeWal(dir);
  const WalFixture& f = s.wal;
  const uint64_t a = f.commits[0], b = f.commits[2], c = f.commits[3];
  StreamBuilder& st = s.stream;
  st.add(RecordType::kSnapshot, 0, 0, f.db);
  st.segment(f, 0, a);
  st.segment(f, a, b);
  st.heartbeat(b, kHeartbeatMicros, checksumAt(f, b));
  st.segment(f, b, c);
  const Checksum cs = checksumAt(f, b);
  s.expected = {
      "snapshot   " + posText(0) + " size=" + std::to_string(f.db.size()) +
          " pages=" + std::to_string(f.db.size() / kPageSize) + " page_size=4096",
      "wal        " + posText(0) + " size=" + std::to_string(st.payloadSize(1)) +
          " wal_bytes=" + std::to_string(a) + " " + frameSummary(f, 0, a) + " chain=ok",
      "wal        " + posText(a) + " size=" + std::to_string(st.payloadSize(2)) +
          " wal_bytes=" + std::to_string(b - a) + " " + frameSummary(f, a, b) + " chain=ok",
      "heartbeat  " + posText(b) + " size=16 time=2023-11-14T22:13:20.123456Z checksum=" +
          hex8(cs.s0) + "/" + hex8(cs.s1) + " chain=ok",
      "wal        " + posText(b) + " size=" + std::to_string(st.payloadSize(4)) +
          " wal_bytes=" + std::to_string(c - b) + " " + frameSummary(f, b, c) + " chain=ok",
  };
  return s;
}

std::vector<std::string> firstLines(const FullStream& s, size_t n) {
  return {s.expected.begin(), s.expected.begin() + static_cast<std::ptrdiff_t>(n)};
}

}  // namespace

TEST_CASE("inspect describes a real stream record by record") {
  TempDir dir;
  FullStream s = makeFullStream(dir);
  CHECK(frameSummary(s.wal, s.wal.commits[0], s.wal.commits[2]).find("commits=2") !=
        std::string::npos);
  RunResult r = inspect(dir, "full", s.stream.bytes);
  CHECK(r.exitCode == 0);
  CHECK(lines(r.out) == s.expected);
  CHECK(r.err.empty());
}

TEST_CASE("inspect on a stream starting mid-index checks what it can") {
  TempDir dir;
  WalFixture f = makeWal(dir);
  const uint64_t a = f.commits[0], b = f.commits[2], c = f.commits[3];

  SUBCASE("after a snapshot the page size is known and the chain is learned") {
    StreamBuilder st;
    const std::string image = imageAt(f, a);
    st.add(RecordType::kSnapshot, 0, a, image);
    st.segment(f, a, b);
    st.segment(f, b, c);
    RunResult r = inspect(dir, "mid", st.bytes);
    CHECK(r.exitCode == 0);
    const std::vector<std::string> expected = {
        "snapshot   " + posText(a) + " size=" + std::to_string(image.size()) +
            " pages=" + std::to_string(image.size() / kPageSize) + " page_size=4096",
        "wal        " + posText(a) + " size=" + std::to_string(st.payloadSize(1)) + " wal_bytes=" +
            std::to_string(b - a) + " " + frameSummary(f, a, b) + " chain=unchecked",
        "wal        " + posText(b) + " size=" + std::to_string(st.payloadSize(2)) +
            " wal_bytes=" + std::to_string(c - b) + " " + frameSummary(f, b, c) + " chain=ok",
    };
    CHECK(lines(r.out) == expected);
  }
  SUBCASE("without a snapshot nothing tells the page size") {
    StreamBuilder st;
    st.segment(f, a, b);
    st.segment(f, b, c);
    RunResult r = inspect(dir, "bare", st.bytes);
    CHECK(r.exitCode == 0);
    const std::vector<std::string> expected = {
        "wal        " + posText(a) + " size=" + std::to_string(st.payloadSize(0)) +
            " wal_bytes=" + std::to_string(b - a) + " frames=? (page size unknown) chain=unchecked",
        "wal        " + posText(b) + " size=" + std::to_string(st.payloadSize(1)) +
            " wal_bytes=" + std::to_string(c - b) + " frames=? (page size unknown) chain=unchecked",
    };
    CHECK(lines(r.out) == expected);
  }
  SUBCASE("a frame of an unchecked segment that breaks the chain after the first is caught") {
    StreamBuilder st;
    st.add(RecordType::kSnapshot, 0, a, imageAt(f, a));
    std::string wal = f.wal.substr(a, b - a);
    wal[kFrameSize + 24 + 7] ^= 0x01;  // page of the second frame
    st.add(RecordType::kWalSegment, 0, a, lz4Compress(asBytes(wal)));
    RunResult r = inspect(dir, "midbad", st.bytes);
    CHECK(r.exitCode == 1);
    const auto out = lines(r.out);
    REQUIRE(out.size() == 2);
    CHECK(out[1] == "error      stream offset " + std::to_string(st.payloadOffset(1)) +
                        ": wal record at " + posText(a) +
                        ": frame checksum mismatch at WAL "
                        "offset " +
                        std::to_string(a + kFrameSize));
  }
}

TEST_CASE("a truncated stream is an error at the offset where it stops") {
  TempDir dir;
  FullStream s = makeFullStream(dir);
  const StreamBuilder& st = s.stream;

  SUBCASE("inside a segment's payload") {
    const uint64_t cut = st.payloadOffset(2) + st.payloadSize(2) / 2;
    RunResult r = inspect(dir, "cut1", st.bytes.substr(0, cut));
    CHECK(r.exitCode == 1);
    auto expected = firstLines(s, 2);
    expected.push_back("error      stream offset " + std::to_string(cut) +
                       ": stream truncated: " + std::to_string(st.payloadSize(2) / 2) + " of the " +
                       std::to_string(st.payloadSize(2)) +
                       " payload bytes of the record at stream offset " +
                       std::to_string(st.recordOffsets[2]) + " (wal)");
    CHECK(lines(r.out) == expected);
  }
  SUBCASE("inside a header") {
    const uint64_t cut = st.recordOffsets[3] + 20;
    RunResult r = inspect(dir, "cut2", st.bytes.substr(0, cut));
    CHECK(r.exitCode == 1);
    auto expected = firstLines(s, 3);
    expected.push_back("error      stream offset " + std::to_string(cut) +
                       ": stream truncated: 20 of the 40 header bytes of the record at stream "
                       "offset " +
                       std::to_string(st.recordOffsets[3]));
    CHECK(lines(r.out) == expected);
  }
  SUBCASE("inside the snapshot") {
    const uint64_t cut = 40 + 4096 + 1;
    RunResult r = inspect(dir, "cut3", st.bytes.substr(0, cut));
    CHECK(r.exitCode == 1);
    const auto out = lines(r.out);
    REQUIRE(out.size() == 1);
    CHECK(out[0].rfind("error      stream offset 4137: stream truncated: 4097 of the ", 0) == 0);
  }
}

TEST_CASE("corruption is an error naming the stream offset") {
  TempDir dir;
  FullStream s = makeFullStream(dir);
  const StreamBuilder& st = s.stream;
  const uint64_t a = s.wal.commits[0], b = s.wal.commits[2];
  const std::string prefix = "error      stream offset ";

  SUBCASE("a flipped byte in a segment's compressed payload") {
    std::string bad = st.bytes;
    bad[st.payloadOffset(2) + st.payloadSize(2) / 2] ^= 0x5a;
    RunResult r = inspect(dir, "flip", bad);
    CHECK(r.exitCode == 1);
    const auto out = lines(r.out);
    REQUIRE(out.size() == 3);
    CHECK(std::vector<std::string>(out.begin(), out.begin() + 2) == firstLines(s, 2));
    CHECK(out[2].rfind(
              prefix + std::to_string(st.payloadOffset(2)) + ": wal record at " + posText(a) + ": ",
              0) == 0);
  }
  SUBCASE("a flipped byte in a page, validly compressed") {
    std::string wal = s.wal.wal.substr(a, b - a);
    wal[24 + 100] ^= 0x01;
    StreamBuilder bad;
    bad.add(RecordType::kSnapshot, 0, 0, s.wal.db);
    bad.segment(s.wal, 0, a);
    bad.add(RecordType::kWalSegment, 0, a, lz4Compress(asBytes(wal)));
    RunResult r = inspect(dir, "page", bad.bytes);
    CHECK(r.exitCode == 1);
    auto expected = firstLines(s, 2);
    expected.push_back(prefix + std::to_string(bad.payloadOffset(2)) + ": wal record at " +
                       posText(a) + ": frame checksum mismatch at WAL offset " + std::to_string(a));
    CHECK(lines(r.out) == expected);
  }
  SUBCASE("a byte of a header's type") {
    std::string bad = st.bytes;
    bad[st.recordOffsets[4] + 3] = 9;
    RunResult r = inspect(dir, "type", bad);
    CHECK(r.exitCode == 1);
    auto expected = firstLines(s, 4);
    expected.push_back(prefix + std::to_string(st.recordOffsets[4]) + ": unknown record type 9");
    CHECK(lines(r.out) == expected);
  }
  SUBCASE("a heartbeat whose checksum disagrees with the chain") {
    std::string bad = st.bytes;
    bad[st.payloadOffset(3) + 9] ^= 0x01;
    RunResult r = inspect(dir, "hb", bad);
    CHECK(r.exitCode == 1);
    const auto out = lines(r.out);
    REQUIRE(out.size() == 4);
    CHECK(out[3].rfind(prefix + std::to_string(st.payloadOffset(3) + 8) + ": heartbeat checksum ",
                       0) == 0);
  }
  SUBCASE("a missing segment") {
    StreamBuilder gap;
    gap.add(RecordType::kSnapshot, 0, 0, s.wal.db);
    gap.segment(s.wal, 0, a);
    gap.segment(s.wal, b, s.wal.commits[3]);
    RunResult r = inspect(dir, "gap", gap.bytes);
    CHECK(r.exitCode == 1);
    auto expected = firstLines(s, 2);
    expected.push_back(prefix + std::to_string(gap.recordOffsets[2] + 24) + ": wal record at " +
                       posText(b) + " does not continue the stream at " + posText(a) +
                       " (nor start the next index at offset 0)");
    CHECK(lines(r.out) == expected);
  }
  SUBCASE("a snapshot that is not a database") {
    StreamBuilder junk;
    junk.add(RecordType::kSnapshot, 0, 0, std::string(8192, 'x'));
    RunResult r = inspect(dir, "junk", junk.bytes);
    CHECK(r.exitCode == 1);
    CHECK(lines(r.out) ==
          std::vector<std::string>{prefix + "40: snapshot does not start with the SQLite header"});
  }
}

TEST_CASE("inspect flags, limits and an empty stream") {
  TempDir dir;
  RunResult empty = inspect(dir, "empty", "");
  CHECK(empty.exitCode == 0);
  CHECK(empty.out.empty());

  RunResult help = inspect(dir, "help", "", {"--help"});
  CHECK(help.exitCode == 0);
  CHECK(help.out.find("Usage: walstream inspect") != std::string::npos);
  CHECK(help.out.find("--max-record-bytes N") != std::string::npos);

  RunResult unknown = inspect(dir, "unknown", "", {"--frobnicate"});
  CHECK(unknown.exitCode == 2);
  CHECK(unknown.err == "walstream inspect: unknown flag --frobnicate\n");
  CHECK(unknown.out.empty());

  RunResult badValue = inspect(dir, "badvalue", "", {"--max-record-bytes", "lots"});
  CHECK(badValue.exitCode == 2);
  CHECK(badValue.err.find("--max-record-bytes") != std::string::npos);

  RunResult positional = inspect(dir, "positional", "", {"stream.bin"});
  CHECK(positional.exitCode == 2);
  CHECK(positional.err.find("stream.bin") != std::string::npos);

  FullStream s = makeFullStream(dir);
  RunResult limited = inspect(dir, "limited", s.stream.bytes, {"--max-record-bytes=1000"});
  CHECK(limited.exitCode == 1);
  CHECK(lines(limited.out) ==
        std::vector<std::string>{"error      stream offset 32: snapshot record payload size " +
                                 std::to_string(s.wal.db.size()) + " exceeds the limit 1000"});
}
