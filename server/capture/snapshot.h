// A snapshot: the image of the primary's database file as of a published position X.
//
// Built as docs/sqlite-wal.md §6.6 describes: the database file, overlaid with every frame
// of X's WAL index up to X (taken from the shadow WAL), cut to the commit size at X. For the
// whole life of the reader a SQLite read transaction is held whose end mark is <= X; since a
// checkpoint never copies frames past a held reader's mark, every page of the file that can
// change underneath is one the overlay replaces. The result is a state the primary really had.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>

#include "core/error.h"
#include "core/pos.h"
#include "core/wal_segment.h"

namespace walstream {

// Thrown by Database::openSnapshot when the caller stopped wanting the snapshot while it was
// being opened (its client went away).
class SnapshotAbandoned : public Error {
 public:
  using Error::Error;
};

class SnapshotReader {
 public:
  virtual ~SnapshotReader() = default;
  virtual Pos position() const = 0;  // X: the stream continues with the segment at X
  virtual uint32_t pageSize() const = 0;
  virtual uint64_t size() const = 0;  // bytes of the image (pages * page size)
  // The WAL's checksum chain at X when X is past the start of its WAL index (nullopt at offset
  // 0, where the next segment's WAL header seeds the chain).
  virtual std::optional<WalChainState> chain() const = 0;

  // Next bytes of the image into `out`: as many whole pages as fit (out must hold at least one
  // page); returns the bytes written, 0 once all size() bytes were returned. The caller owns
  // the buffer, so a stream can reuse its buffers for every chunk. Blocking disk I/O.
  virtual size_t readInto(std::span<char> out) = 0;

  // Starts again from the first page: the same image follows, byte for byte (the read
  // transaction that keeps it is still held). Used to read an image twice, e.g. once to learn
  // its compressed size and once to send it.
  virtual void rewind() = 0;

  // Next bytes of the image, at most maxBytes (rounded down to whole pages, at least one page);
  // empty once all size() bytes were returned. Blocking disk I/O.
  std::string read(size_t maxBytes) {
    std::string out(std::max<size_t>(maxBytes / pageSize(), 1) * pageSize(), '\0');
    out.resize(readInto(out));
    return out;
  }
};

}  // namespace walstream
