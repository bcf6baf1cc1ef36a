// The replica's durable cursor: LOCAL_DB-walstream/position.
//
// One line: "<pos> <checksum> <salts> <page size> <le|be>\n", where pos is the text form of the
// last applied position, checksum is the primary WAL's running checksum at pos (s0 and s1 as 16
// hex digits), salts are that WAL's salt-1 and salt-2 (16 hex digits), and le/be is the WAL's
// checksum word order. Checksum and salts are "-" when the chain at pos is not known (right
// after a snapshot: the next segment anchors it). Together they let the replica verify the next
// segment's frame chain and let the primary detect divergence on resume (its resume check compares
// the checksum).
//
// Written tmp + fsync + rename + directory fsync, and only after the data it describes is
// durable in LOCAL_DB's WAL.
#pragma once

#include <optional>
#include <string>

#include "core/pos.h"
#include "core/wal_segment.h"

namespace walstream::client {

struct ReplicaPosition {
  Pos pos;
  WalChainState chain;      // the primary WAL's chain at pos (pageSize always set)
  bool chainKnown = false;  // salts, checksum and word order of `chain` are meaningful
};

std::string formatReplicaPosition(const ReplicaPosition& p);
// nullopt for a malformed line (the caller logs it and starts over with a snapshot).
std::optional<ReplicaPosition> parseReplicaPosition(const std::string& line);

std::optional<ReplicaPosition> loadReplicaPosition(const std::string& path);  // missing: nullopt
void saveReplicaPosition(const std::string& path, const ReplicaPosition& p);

}  // namespace walstream::client
