#include "core/wal_segment.h"

#include <string>

#include "core/error.h"

namespace walstream {

namespace {

[[noreturn]] void fail(const std::string& reason, uint64_t walOffset) {
  throw Error(reason + " at WAL offset " + std::to_string(walOffset));
}

}  // namespace

size_t ParsedWalSegment::frameCount() const {
  size_t n = 0;
  for (const auto& t : transactions) n += t.frames.size();
  return n;
}

namespace {

// What every frame of SQLite's satisfies, whatever its chain (see parseWalSegment).
void checkPageNumbers(const WalFrameHeader& h, uint32_t maxPageCount, uint64_t at) {
  if (h.pageNumber == 0) fail("frame with page number 0", at);
  if (h.pageNumber > maxPageCount) {
    fail("frame with page number " + std::to_string(h.pageNumber) + ", beyond the " +
             std::to_string(maxPageCount) + " pages a database can have",
         at);
  }
  if (!h.isCommit()) return;
  if (h.commitSize > maxPageCount) {
    fail("commit frame with database size " + std::to_string(h.commitSize) + " pages, beyond the " +
             std::to_string(maxPageCount) + " a database can have",
         at);
  }
  if (h.pageNumber > h.commitSize) {
    fail("commit frame of page " + std::to_string(h.pageNumber) + " beyond its database size of " +
             std::to_string(h.commitSize) + " pages",
         at);
  }
}

}  // namespace

const char* continueWalChain(WalChainState& state, const uint8_t* frame, const WalFrameHeader& h) {
  if (h.salt1 != state.salt1 || h.salt2 != state.salt2) return "frame salt mismatch";
  Checksum c = walChecksum(frame, 8, state.bigEndianChecksum, state.checksum);
  c = walChecksum(frame + kWalFrameHeaderSize, state.pageSize, state.bigEndianChecksum, c);
  if (c != h.checksum) return "frame checksum mismatch";
  state.checksum = c;
  return nullptr;
}

void WalSegmentPrefixCheck::check(std::span<const uint8_t> prefix) {
  if (checked_ == 0 && offset_ == 0) {
    if (prefix.size() < kWalHeaderSize) return;
    const std::optional<WalHeader> h = WalHeader::decode(prefix);
    if (!h) fail("invalid WAL header (magic, page size or checksum)", 0);
    if (h->pageSize != pageSize_) {
      fail("WAL header of page size " + std::to_string(h->pageSize) + " in a stream of " +
               std::to_string(pageSize_) + "-byte pages",
           0);
    }
    salt1_ = h->salt1;
    salt2_ = h->salt2;
    saltsKnown_ = true;
    checked_ = kWalHeaderSize;
  }
  const size_t frameSize = pageSize_ + kWalFrameHeaderSize;
  for (; checked_ + frameSize <= prefix.size(); checked_ += frameSize) {
    const WalFrameHeader h = WalFrameHeader::decode(prefix.data() + checked_);
    const uint64_t at = offset_ + checked_;
    if (!saltsKnown_) {
      salt1_ = h.salt1;
      salt2_ = h.salt2;
      saltsKnown_ = true;
    }
    if (h.salt1 != salt1_ || h.salt2 != salt2_) fail("frame salt mismatch", at);
    checkPageNumbers(h, maxPageCount_, at);
  }
}

ParsedWalSegment parseWalSegment(std::span<const uint8_t> bytes, uint64_t offset,
                                 WalChainState& state, uint32_t maxPageCount) {
  ParsedWalSegment out;
  WalChainState st = state;
  size_t pos = 0;
  if (offset == 0) {
    out.header = WalHeader::decode(bytes);
    if (!out.header) fail("invalid WAL header (magic, page size or checksum)", 0);
    if (out.header->version != kWalVersion) {
      fail("unsupported WAL format version " + std::to_string(out.header->version), 0);
    }
    st = WalChainState::fromHeader(*out.header);
    pos = kWalHeaderSize;
  } else if (!st.initialized()) {
    fail("segment does not start at offset 0 and no chain state is known", offset);
  } else if (offset < kWalHeaderSize ||
             (offset - kWalHeaderSize) % (st.pageSize + kWalFrameHeaderSize) != 0) {
    fail("offset is not on a frame boundary", offset);
  }
  const size_t frameSize = st.pageSize + kWalFrameHeaderSize;
  // A WAL file is at most 2^32 frames long: an offset past any it can have (from the wire)
  // would make the end offset wrap.
  if (offset > (uint64_t{1} << 48) || bytes.size() > (uint64_t{1} << 48)) {
    fail("offset or size beyond any WAL file", offset);
  }
  if ((bytes.size() - pos) % frameSize != 0) {
    fail("segment holds a partial frame (" + std::to_string(bytes.size() - pos) +
             " bytes after the header, frame size " + std::to_string(frameSize) + ")",
         offset + pos);
  }
  WalTransaction txn;
  for (; pos < bytes.size(); pos += frameSize) {
    const uint8_t* f = bytes.data() + pos;
    WalFrameHeader h = WalFrameHeader::decode(f);
    if (const char* broken = continueWalChain(st, f, h)) fail(broken, offset + pos);
    // After the checksum: damage is reported as damage, a well-formed lie as what it says.
    // A refusal here still leaves the caller's `state` unchanged: only `st` has advanced.
    checkPageNumbers(h, maxPageCount, offset + pos);
    txn.frames.push_back({h, bytes.subspan(pos + kWalFrameHeaderSize, st.pageSize)});
    if (h.isCommit()) out.transactions.push_back(std::move(txn)), txn = {};
  }
  if (!txn.frames.empty()) fail("segment does not end on a commit frame", offset + pos);
  if (out.transactions.empty() && !out.header) fail("segment holds no frames", offset);
  out.endOffset = offset + bytes.size();
  state = st;
  return out;
}

}  // namespace walstream
