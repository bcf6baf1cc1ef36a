#include "client/apply/wal_overlap.h"

#include "core/error.h"

namespace walstream {

namespace {

bool sameChain(const WalChainState& a, const WalChainState& b) {
  return a.pageSize == b.pageSize && a.salt1 == b.salt1 && a.salt2 == b.salt2 &&
         a.checksum == b.checksum;
}

std::string chainText(const WalChainState& c) {
  return "salts " + formatHex16((uint64_t{c.salt1} << 32) | c.salt2) + ", checksum " +
         formatHex16((uint64_t{c.checksum.s0} << 32) | c.checksum.s1);
}

WalOverlap::Outcome diverged(std::string why) {
  return {WalOverlap::Verdict::kDiverged, {}, {}, std::move(why)};
}

}  // namespace

WalOverlap::Outcome WalOverlap::check(const Pos& segmentPos, std::span<const uint8_t> segment,
                                      const Pos& applied, const WalChainState& appliedChain,
                                      bool chainKnown, uint32_t maxPageCount) {
  if (segmentPos.offset == 0) {
    at_ = segmentPos;  // the overlap starts over: its WAL header seeds the chain
    chain_ = WalChainState{};
  } else if (!at_ || *at_ != segmentPos) {
    return {Verdict::kOutOfOrder,
            {},
            {},
            "segment " + segmentPos.str() + " starts before the applied position " + applied.str() +
                " but does not continue a resent WAL index from its header"};
  }
  if (!chainKnown) {
    reset();
    return diverged("the replica keeps no WAL checksum at its position " + applied.str() +
                    " to verify the resent WAL index against");
  }
  const size_t inOverlap =
      static_cast<size_t>(std::min<uint64_t>(segment.size(), applied.offset - segmentPos.offset));
  WalChainState chain = chain_;
  try {
    parseWalSegment(segment.first(inOverlap), segmentPos.offset, chain, maxPageCount);
  } catch (const Error& e) {
    reset();
    return diverged("the resent WAL up to the applied position " + applied.str() +
                    " is not whole transactions of one WAL: " + e.what());
  }
  // Salts are the same throughout a WAL index: a header with others is another WAL at once.
  if (chain.salt1 != appliedChain.salt1 || chain.salt2 != appliedChain.salt2) {
    reset();
    return diverged("the resent WAL index has salts " +
                    formatHex16((uint64_t{chain.salt1} << 32) | chain.salt2) + ", the applied " +
                    "one " +
                    formatHex16((uint64_t{appliedChain.salt1} << 32) | appliedChain.salt2));
  }
  chain_ = chain;
  if (segmentPos.offset + inOverlap < applied.offset) {
    at_ = Pos{segmentPos.generation, segmentPos.index, segmentPos.offset + inOverlap};
    return {Verdict::kInside, {}, {}, {}};
  }
  return verifyAtPosition(segment, inOverlap, appliedChain);
}

WalOverlap::Outcome WalOverlap::verifyAtPosition(std::span<const uint8_t> segment, size_t inOverlap,
                                                 const WalChainState& appliedChain) {
  const WalChainState reached = chain_;
  reset();
  if (!sameChain(reached, appliedChain)) {
    return diverged("the resent WAL reaches the applied position with " + chainText(reached) +
                    ", the replica applied " + chainText(appliedChain));
  }
  return {Verdict::kReachesPosition, segment.subspan(inOverlap), reached, {}};
}

}  // namespace walstream
