// The Walstream-Snapshot-Chain response header: the primary WAL's checksum chain at a snapshot's
// position, so that a replica that starts from a snapshot taken in the middle of a WAL index can
// check the very next segment against the whole chain, and resume later with a checksum the
// primary verifies (a snapshot alone would leave the replica unable to tell its position from a
// different history that reached the same offset).
//
// Sent with a 200 response whose stream begins with a snapshot at an offset > 0 (at offset 0 the
// next segment begins with its WAL header, which seeds the chain). Value, one line:
//
//   <salts> <checksum> <le|be>
//
// salts: salt-1 and salt-2 as 16 lowercase hex digits; checksum: the running checksum after the
// snapshot's last frame, s0 and s1 as 16 lowercase hex digits; le/be: the WAL's checksum word
// order. The page size is the response's Walstream-Page-Size.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/wal_segment.h"

namespace walstream::proto {

inline constexpr std::string_view kSnapshotChainHeader = "Walstream-Snapshot-Chain";

std::string formatSnapshotChain(const WalChainState& chain);
// The chain with pageSize; nullopt unless the value is exactly in the form above.
std::optional<WalChainState> parseSnapshotChain(std::string_view value, uint32_t pageSize);

}  // namespace walstream::proto
