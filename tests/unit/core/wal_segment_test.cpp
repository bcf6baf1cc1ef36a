#include <doctest/doctest.h>

#include "core/error.h"
#include "core/wal_segment.h"
#include "tests/support/sqlite_fixture.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;

namespace {

constexpr uint32_t kPageSize = 1024;
constexpr size_t kFrameSize = kPageSize + kWalFrameHeaderSize;

// A WAL of 1 + kInsertTransactions transactions (CREATE TABLE, then inserts with values large
// enough for several frames each), all still in the -wal.
constexpr int kInsertTransactions = 9;

struct RealWal {
  std::vector<uint8_t> bytes;
  size_t transactions = 0;
};

RealWal makeRealWal(const TempDir& dir) {
  const std::string path = dir.file("app.db");
  auto db = openWalDatabase(path, {.pageSize = kPageSize});
  db->exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
  for (int txn = 0; txn < kInsertTransactions; ++txn) {
    db->exec("BEGIN");
    for (int i = 0; i <= txn % 3; ++i) {
      db->exec("INSERT INTO t(v) VALUES(randomblob(" + std::to_string(700 + 900 * txn) + "))");
    }
    db->exec("COMMIT");
  }
  return {readBytes(path + "-wal"), 1 + kInsertTransactions};
}

std::string errorOf(std::span<const uint8_t> bytes, uint64_t offset, WalChainState& state) {
  try {
    parseWalSegment(bytes, offset, state);
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

bool sameState(const WalChainState& a, const WalChainState& b) {
  return a.pageSize == b.pageSize && a.salt1 == b.salt1 && a.salt2 == b.salt2 &&
         a.bigEndianChecksum == b.bigEndianChecksum && a.checksum == b.checksum;
}

// The first transaction of `wal` after the first one with more than one frame, as (offset of its
// first frame, frames).
std::pair<uint64_t, size_t> firstMultiFrameTransaction(std::span<const uint8_t> wal) {
  uint64_t start = kWalHeaderSize;
  size_t frames = 0;
  for (uint64_t pos = kWalHeaderSize; pos + kFrameSize <= wal.size(); pos += kFrameSize) {
    ++frames;
    if (WalFrameHeader::decode(&wal[pos]).isCommit()) {
      if (frames > 1 && start > kWalHeaderSize) return {start, frames};
      start = pos + kFrameSize;
      frames = 0;
    }
  }
  FAIL("no multi-frame transaction in the WAL");
  return {0, 0};
}

}  // namespace

TEST_CASE("a real WAL split at commit boundaries parses segment by segment with one chain state") {
  TempDir dir;
  RealWal wal = makeRealWal(dir);
  for (size_t perSlice : {size_t{1}, size_t{3}, size_t{100}}) {
    CAPTURE(perSlice);
    std::vector<WalSlice> slices = splitWalAtCommits(wal.bytes, perSlice);
    REQUIRE(!slices.empty());
    CHECK(slices.size() == (wal.transactions + perSlice - 1) / perSlice);
    WalChainState state;
    size_t transactions = 0;
    size_t frames = 0;
    uint64_t expectedOffset = 0;
    for (const WalSlice& s : slices) {
      CAPTURE(s.offset);
      REQUIRE(s.offset == expectedOffset);
      ParsedWalSegment p = parseWalSegment(s.bytes, s.offset, state);
      CHECK(p.header.has_value() == (s.offset == 0));
      CHECK(p.transactions.size() == s.transactions);
      CHECK(p.frameCount() == s.frames);
      CHECK(p.endOffset == s.offset + s.bytes.size());
      for (const WalTransaction& t : p.transactions) {
        REQUIRE(!t.frames.empty());
        CHECK(t.frames.back().header.isCommit());
        CHECK(t.commitSize() == t.frames.back().header.commitSize);
        for (size_t i = 0; i + 1 < t.frames.size(); ++i) CHECK_FALSE(t.frames[i].header.isCommit());
        for (const WalFrameView& f : t.frames) CHECK(f.page.size() == kPageSize);
      }
      // The chain state now holds the checksum stored in the slice's last frame.
      WalFrameHeader last = WalFrameHeader::decode(&s.bytes[s.bytes.size() - kFrameSize]);
      CHECK(state.checksum == last.checksum);
      CHECK(state.pageSize == kPageSize);
      transactions += p.transactions.size();
      frames += p.frameCount();
      expectedOffset = p.endOffset;
    }
    CHECK(transactions == wal.transactions);
    CHECK(expectedOffset == wal.bytes.size());
    CHECK(frames == (wal.bytes.size() - kWalHeaderSize) / kFrameSize);
  }

  // The pages handed out are views into the input, in WAL order.
  WalChainState state;
  ParsedWalSegment all = parseWalSegment(wal.bytes, 0, state);
  REQUIRE(all.transactions.size() == wal.transactions);
  const WalFrameView& first = all.transactions[0].frames[0];
  CHECK(first.page.data() == wal.bytes.data() + kWalHeaderSize + kWalFrameHeaderSize);
  CHECK(all.header->pageSize == kPageSize);
}

TEST_CASE("parseWalSegment rejects damaged or misplaced segments, naming the WAL offset") {
  TempDir dir;
  RealWal wal = makeRealWal(dir);
  std::vector<WalSlice> slices = splitWalAtCommits(wal.bytes, 2);
  REQUIRE(slices.size() >= 3);
  // Chain state at the start of slices[1] (a segment not at offset 0).
  WalChainState atSecond;
  parseWalSegment(slices[0].bytes, 0, atSecond);
  const WalSlice& second = slices[1];
  const WalChainState before = atSecond;
  WalChainState state = atSecond;

  SUBCASE("one corrupt page byte: checksum mismatch at that frame's offset") {
    for (size_t frame : {size_t{0}, second.frames - 1}) {
      CAPTURE(frame);
      std::vector<uint8_t> bytes = second.bytes;
      bytes[frame * kFrameSize + kWalFrameHeaderSize + 100] ^= 0x01;
      const uint64_t frameOffset = second.offset + frame * kFrameSize;
      CHECK(errorOf(bytes, second.offset, state) ==
            "frame checksum mismatch at WAL offset " + std::to_string(frameOffset));
      CHECK(sameState(state, before));
    }
  }
  SUBCASE("corrupt page in the segment at offset 0") {
    std::vector<uint8_t> bytes = slices[0].bytes;
    bytes[kWalHeaderSize + kFrameSize + 30] ^= 0x80;  // second frame's page
    WalChainState fresh;
    CHECK(errorOf(bytes, 0, fresh) ==
          "frame checksum mismatch at WAL offset " + std::to_string(kWalHeaderSize + kFrameSize));
    CHECK_FALSE(fresh.initialized());
  }
  SUBCASE("corrupt commit size (hashed frame header bytes)") {
    std::vector<uint8_t> bytes = second.bytes;
    bytes[bytes.size() - kFrameSize + 7] ^= 0x01;
    CHECK(errorOf(bytes, second.offset, state) ==
          "frame checksum mismatch at WAL offset " +
              std::to_string(second.offset + second.bytes.size() - kFrameSize));
  }
  SUBCASE("wrong salts") {
    WalChainState other = state;
    other.salt2 ^= 1;
    const WalChainState otherBefore = other;
    CHECK(errorOf(second.bytes, second.offset, other) ==
          "frame salt mismatch at WAL offset " + std::to_string(second.offset));
    CHECK(sameState(other, otherBefore));
    std::vector<uint8_t> bytes = second.bytes;
    bytes[kFrameSize + 8] ^= 0x40;  // salt-1 of the segment's second frame
    CHECK(errorOf(bytes, second.offset, state) ==
          "frame salt mismatch at WAL offset " + std::to_string(second.offset + kFrameSize));
  }
  SUBCASE("wrong running checksum seed") {
    WalChainState other = state;
    other.checksum.s0 += 1;
    CHECK(errorOf(second.bytes, second.offset, other) ==
          "frame checksum mismatch at WAL offset " + std::to_string(second.offset));
  }
  SUBCASE("truncated: a partial frame") {
    for (size_t cut : {size_t{1}, size_t{24}, kFrameSize - 1}) {
      CAPTURE(cut);
      std::span<const uint8_t> bytes(second.bytes.data(), second.bytes.size() - cut);
      std::string err = errorOf(bytes, second.offset, state);
      CHECK(err.find("partial frame") != std::string::npos);
      CHECK(err.find("at WAL offset " + std::to_string(second.offset)) != std::string::npos);
      CHECK(sameState(state, before));
    }
    std::span<const uint8_t> first(slices[0].bytes.data(), slices[0].bytes.size() - 10);
    WalChainState fresh;
    std::string err = errorOf(first, 0, fresh);
    CHECK(err.find("partial frame") != std::string::npos);
    CHECK(err.find("at WAL offset 32") != std::string::npos);
  }
  SUBCASE("segment ending inside a transaction") {
    auto [txnStart, txnFrames] = firstMultiFrameTransaction(wal.bytes);
    REQUIRE(txnStart >= kWalHeaderSize + kFrameSize);
    // From the commit boundary before the transaction up to its first frame only.
    WalChainState st;
    std::span<const uint8_t> head(wal.bytes.data(), txnStart);
    parseWalSegment(head, 0, st);
    const WalChainState atTxn = st;
    std::span<const uint8_t> partial(wal.bytes.data() + txnStart, kFrameSize * (txnFrames - 1));
    CHECK(errorOf(partial, txnStart, st) ==
          "segment does not end on a commit frame at WAL offset " +
              std::to_string(txnStart + partial.size()));
    CHECK(sameState(st, atTxn));
    // Whole WAL cut one frame short of the end.
    std::span<const uint8_t> cut(wal.bytes.data(), wal.bytes.size() - kFrameSize);
    WalChainState fresh;
    std::string err = errorOf(cut, 0, fresh);
    CHECK(err.find("does not end on a commit frame") != std::string::npos);
    CHECK_FALSE(fresh.initialized());
  }
  SUBCASE("offset not on a frame boundary") {
    for (uint64_t bad : {second.offset + 8, second.offset - 1, uint64_t{16}}) {
      CAPTURE(bad);
      CHECK(errorOf(second.bytes, bad, state) ==
            "offset is not on a frame boundary at WAL offset " + std::to_string(bad));
      CHECK(sameState(state, before));
    }
  }
  SUBCASE("offset > 0 with no chain state") {
    WalChainState none;
    CHECK(errorOf(second.bytes, second.offset, none) ==
          "segment does not start at offset 0 and no chain state is known at WAL offset " +
              std::to_string(second.offset));
    CHECK_FALSE(none.initialized());
  }
  SUBCASE("a valid segment parsed at the wrong offset") {
    // Bytes of slices[2] presented as if they were at slices[1]'s offset: the chain breaks.
    std::string err = errorOf(slices[2].bytes, second.offset, state);
    CHECK(err == "frame checksum mismatch at WAL offset " + std::to_string(second.offset));
  }
  SUBCASE("empty segment at offset > 0") {
    CHECK(errorOf({}, second.offset, state) ==
          "segment holds no frames at WAL offset " + std::to_string(second.offset));
  }
  SUBCASE("invalid WAL header at offset 0") {
    std::vector<uint8_t> bytes = slices[0].bytes;
    bytes[3] ^= 0x04;  // magic
    WalChainState keep = state;
    CHECK(errorOf(bytes, 0, keep) ==
          "invalid WAL header (magic, page size or checksum) at WAL offset 0");
    CHECK(sameState(keep, before));
    CHECK(errorOf(std::span(slices[0].bytes).first(20), 0, keep) ==
          "invalid WAL header (magic, page size or checksum) at WAL offset 0");
  }
  SUBCASE("unsupported WAL version") {
    std::vector<uint8_t> bytes = slices[0].bytes;
    auto h = WalHeader::decode(bytes);
    REQUIRE(h.has_value());
    h->version = 3007001;
    auto hb = h->encode();
    std::copy(hb.begin(), hb.end(), bytes.begin());
    WalChainState fresh;
    CHECK(errorOf(bytes, 0, fresh) == "unsupported WAL format version 3007001 at WAL offset 0");
  }
  SUBCASE("page number 0") {
    // Rebuild the segment's first frame with page number 0 and a valid checksum, so only the
    // page number is wrong.
    std::vector<uint8_t> bytes = second.bytes;
    WalFrameHeader fh = WalFrameHeader::decode(bytes.data());
    fh.pageNumber = 0;
    fh.encode(bytes.data());
    Checksum c = walChecksum(bytes.data(), 8, state.bigEndianChecksum, state.checksum);
    fh.checksum =
        walChecksum(bytes.data() + kWalFrameHeaderSize, kPageSize, state.bigEndianChecksum, c);
    fh.encode(bytes.data());
    CHECK(errorOf(bytes, second.offset, state) ==
          "frame with page number 0 at WAL offset " + std::to_string(second.offset));
  }
  // The state was left alone by every failure above and still parses the real continuation.
  CHECK(sameState(state, before));
  ParsedWalSegment ok = parseWalSegment(second.bytes, second.offset, state);
  CHECK(ok.transactions.size() == second.transactions);
}

TEST_CASE("a segment holding only the WAL header sets up the chain state") {
  TempDir dir;
  RealWal wal = makeRealWal(dir);
  WalChainState state;
  ParsedWalSegment p = parseWalSegment(std::span(wal.bytes).first(kWalHeaderSize), 0, state);
  REQUIRE(p.header.has_value());
  CHECK(p.transactions.empty());
  CHECK(p.endOffset == kWalHeaderSize);
  CHECK(state.initialized());
  CHECK(state.checksum == p.header->checksum);
  std::vector<WalSlice> slices = splitWalAtCommits(wal.bytes, 1);
  REQUIRE(slices.size() >= 1);
  std::span<const uint8_t> firstFrames = std::span(slices[0].bytes).subspan(kWalHeaderSize);
  ParsedWalSegment next = parseWalSegment(firstFrames, kWalHeaderSize, state);
  CHECK(next.transactions.size() == 1);
}

TEST_CASE("continueWalChain follows a real WAL frame by frame, as parseWalSegment does") {
  TempDir dir;
  RealWal wal = makeRealWal(dir);
  WalChainState parsed;
  parseWalSegment(wal.bytes, 0, parsed);
  std::optional<WalHeader> header = WalHeader::decode(wal.bytes);
  REQUIRE(header.has_value());
  WalChainState state = WalChainState::fromHeader(*header);
  for (size_t at = kWalHeaderSize; at < wal.bytes.size(); at += kFrameSize) {
    const WalFrameHeader h = WalFrameHeader::decode(&wal.bytes[at]);
    const char* broken = continueWalChain(state, &wal.bytes[at], h);
    REQUIRE(broken == nullptr);
  }
  CHECK(sameState(state, parsed));

  // A refused frame leaves the state where it was.
  state = WalChainState::fromHeader(*header);
  const WalChainState before = state;
  std::vector<uint8_t> frame(wal.bytes.begin() + kWalHeaderSize,
                             wal.bytes.begin() + kWalHeaderSize + kFrameSize);
  SUBCASE("a changed page byte") {
    frame[kWalFrameHeaderSize + 100] ^= 0x5a;
    CHECK(
        std::string(continueWalChain(state, frame.data(), WalFrameHeader::decode(frame.data()))) ==
        "frame checksum mismatch");
  }
  SUBCASE("other salts") {
    WalFrameHeader h = WalFrameHeader::decode(frame.data());
    h.salt2 ^= 1;
    CHECK(std::string(continueWalChain(state, frame.data(), h)) == "frame salt mismatch");
  }
  CHECK(sameState(state, before));
}
