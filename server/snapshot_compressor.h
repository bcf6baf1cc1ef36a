// The opt-in compressed snapshot (compress=1): the record header must state the payload size
// before the first byte is sent, so the whole image is compressed first, as one LZ4 frame, into
// an unlinked temporary file. Memory stays bounded by one input chunk and its compressed bound
// whatever the database size; the disk cost is the compressed size, released when the file
// descriptor closes.
#pragma once

#include <cstdint>
#include <string>

#include "core/file_util.h"
#include "core/snapshot.h"

namespace walstream::server {

struct CompressedSnapshot {
  UniqueFd file;  // unlinked; read it with preadFull
  uint64_t size = 0;
};

// Reads every byte of `snapshot` (chunkBytes at a time) and compresses it into a temporary file
// in `dir` (falling back to $TMPDIR or /tmp). Blocking; throws Error on I/O failure or when the
// snapshot ends before its announced size.
CompressedSnapshot compressSnapshot(SnapshotReader& snapshot, const std::string& dir,
                                    size_t chunkBytes);

}  // namespace walstream::server
