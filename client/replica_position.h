// The replica's durable cursor: LOCAL_DB-walstream/position.
//
// One line: "<pos> <checksum> <salts> <page size> <le|be|??> local=<salts>:<mxFrame>:<checksum>\n"
// (the local part "local=-" when unknown; with mxFrame 0 it goes on with
// ":<inode>:<size>:<mtime ns>:<ctime ns>" of LOCAL_DB's file, 16 hex digits each), where pos is
// the text form of the
// last applied position, checksum is the primary WAL's running checksum at pos (s0 and s1 as 16
// hex digits), salts are that WAL's salt-1 and salt-2 (16 hex digits), and le/be is the WAL's
// checksum word order ("??" while it is not known yet: see ReplicaPosition::orderKnown). Checksum
// and salts are "-" when the chain at pos is not known (right after a snapshot: the next segment
// anchors it). Together they let the replica verify the next segment's frame chain and let the
// primary detect divergence on resume (its resume check compares the checksum).
//
// The line is padded with spaces to a fixed length and ends with " sum=<8 hex digits>", an
// FNV-1a checksum of everything before it, so that the file can be rewritten in place after
// every applied transaction (core/record_file.h) and a record torn by a crash is detected (the
// replica then starts over from a snapshot) instead of resuming from a mix of two positions.
// Lines without the checksum (written by older versions) are still accepted.
//
// Written in place after each apply without a flush, so after a crash or power failure it may be
// behind LOCAL_DB's WAL or ahead of it (the WAL is not flushed per apply either): the local part
// tells, and the replica then fetches a snapshot. When it is flushed, and why a match means the
// exact state, is the durability invariant in client/replica_applier.h.
#pragma once

#include <array>
#include <optional>
#include <string>

#include "core/file_stamp.h"
#include "core/pos.h"
#include "core/wal_segment.h"

namespace walstream::client {

// LOCAL_DB's file as stat(2) saw it: it changes only when something writes the file.
using DbFileStamp = FileStamp;

// Where LOCAL_DB's own WAL stood right after the transaction at `pos` was applied.
struct LocalWalState {
  std::array<uint8_t, 8> salt{};  // the local WAL's salts (big-endian bytes, as in the header)
  uint32_t mxFrame = 0;
  Checksum frameChecksum;
  // With mxFrame 0 (LOCAL_DB's file alone holds the state at pos): the file as it was then, so
  // that a write checkpointed into it since is seen (ReplicaApplier::checkLocalWal).
  std::optional<DbFileStamp> dbFile;
  friend bool operator==(const LocalWalState&, const LocalWalState&) = default;
};

struct ReplicaPosition {
  Pos pos;
  WalChainState chain;      // the primary WAL's chain at pos (pageSize always set)
  bool chainKnown = false;  // salts, checksum and word order of `chain` are meaningful
  // LOCAL_DB's WAL at pos (mxFrame 0: the database file alone holds the state at pos); absent
  // in records of older versions. On start the replica resumes only if its WAL still matches.
  std::optional<LocalWalState> local;
  // With chainKnown: chain.bigEndianChecksum is known. False after a snapshot taken in the
  // middle of a WAL index until a frame has been checked in exactly one of the two orders (no
  // WAL header tells it there, and the stream does not either); the next segment is then
  // checked in both (ReplicaApplier).
  bool orderKnown = true;
};

std::string formatReplicaPosition(const ReplicaPosition& p);
// nullopt for a malformed line (the caller logs it and starts over with a snapshot).
std::optional<ReplicaPosition> parseReplicaPosition(const std::string& line);

std::optional<ReplicaPosition> loadReplicaPosition(const std::string& path);  // missing: nullopt

}  // namespace walstream::client
