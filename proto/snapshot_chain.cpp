#include "proto/snapshot_chain.h"

#include "core/error.h"
#include "core/pos.h"

namespace walstream::proto {

std::string formatSnapshotChain(const WalChainState& chain) {
  return formatHex16((uint64_t{chain.salt1} << 32) | chain.salt2) + " " +
         formatHex16((uint64_t{chain.checksum.s0} << 32) | chain.checksum.s1) +
         (chain.bigEndianChecksum ? " be" : " le");
}

std::optional<WalChainState> parseSnapshotChain(std::string_view value, uint32_t pageSize) {
  // 16 + 1 + 16 + 1 + 2 characters, nothing else.
  if (value.size() != 36 || value[16] != ' ' || value[33] != ' ') return std::nullopt;
  const std::string_view order = value.substr(34);
  if (order != "le" && order != "be") return std::nullopt;
  for (size_t i : {size_t{0}, size_t{17}}) {
    for (char c : value.substr(i, 16)) {
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
    }
  }
  try {
    const uint64_t salts = parseHex16(value.substr(0, 16), "salts");
    const uint64_t checksum = parseHex16(value.substr(17, 16), "checksum");
    WalChainState c;
    c.pageSize = pageSize;
    c.salt1 = static_cast<uint32_t>(salts >> 32);
    c.salt2 = static_cast<uint32_t>(salts);
    c.checksum = {static_cast<uint32_t>(checksum >> 32), static_cast<uint32_t>(checksum)};
    c.bigEndianChecksum = order == "be";
    return c;
  } catch (const Error&) {
    return std::nullopt;
  }
}

}  // namespace walstream::proto
