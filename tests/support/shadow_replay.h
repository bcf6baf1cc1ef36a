// Test oracle for the shadow WAL: replays a generation's segments onto a copy of the database
// file, the way a restore would, checking every segment's frame chain on the way.
#pragma once

#include <cstdint>
#include <string>

#include "core/pos.h"

namespace walstream::test {

struct ReplayResult {
  Pos end;  // position after the last segment replayed
  uint64_t segments = 0;
  uint64_t transactions = 0;
  uint64_t indexes = 0;
};

// Applies every segment of `generation` under `shadowRoot`, in (index, offset) order, onto the
// database image at `dbCopy`: each transaction's pages are written at (pgno-1)*pageSize and the
// file is cut to the commit size. Checks that indexes increase by one, offsets are contiguous
// and start at 0, and that each segment continues its index's checksum chain. Throws on any
// violation.
ReplayResult replayGeneration(const std::string& shadowRoot, uint64_t generation,
                              const std::string& dbCopy);

// All rows of every table of a database, as text, in a stable order: for content equality.
std::string dumpDatabase(const std::string& path);

}  // namespace walstream::test
