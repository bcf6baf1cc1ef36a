// The /stream request of the original 2022 protocol (docs/wire-format.md §9), as the replica
// writes it to a primary of that design:
//
//   GET /stream?path=PATH[&generation=GEN&index=INDEX]
//
// PATH is the database's path on the primary (its configured path, typically absolute); GEN is
// the generation and INDEX the WAL index (16 lowercase hex digits each). Such a primary resumes
// from offset 0 of that index: there is no offset, checksum, heartbeat or other option. A
// walstream primary accepts this request too (`path=` and `generation=&index=` are its older
// spellings: proto/stream_request.h).
#pragma once

#include <string>
#include <string_view>

#include "core/pos.h"

namespace walstream::proto {

// The request target; `pos` empty (or of generation 0) asks for a snapshot. Only the
// generation and index of `pos` are sent.
std::string originalStreamTarget(std::string_view path, const Pos& pos);

}  // namespace walstream::proto
