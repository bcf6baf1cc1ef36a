// Facts about a SQLite database file that every snapshot image needs (the primary's,
// server/capture/snapshot.h, and a relay's, relay/local_image.h).
#pragma once

#include <cstdint>
#include <string>

namespace walstream {

// The page that holds SQLite's lock bytes (offset 2^30): never written, in the file or the WAL,
// so a database that grew past it in the WAL may not have it in the file yet. Its content is
// never read by SQLite; an image carries zeros.
inline uint64_t pendingBytePage(uint32_t pageSize) {
  return (uint64_t{1} << 30) / pageSize + 1;
}

// The database's size in pages from its header (offset 28), valid when the header's
// version-valid-for number (offset 92) equals its change counter (offset 24), as SQLite
// requires; otherwise the file's size. Blocking disk I/O.
uint64_t databasePageCount(int fd, const std::string& path, uint32_t pageSize);

}  // namespace walstream
