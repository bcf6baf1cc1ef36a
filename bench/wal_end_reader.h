// Where the WAL of a database ends after its last commit, read from the wal-index header of its
// -shm file (core/wal_index.h): the WAL's salts, which name the WAL file since its last restart,
// and the byte offset after the last committed frame. Read by the writer right after its own
// COMMIT returned, it is where that commit ends in the WAL: positions (core/pos.h) count the
// same bytes, and a backup object that reaches that offset in that WAL holds the commit.
#pragma once

#include <cstdint>
#include <string>

#include "core/file_util.h"

namespace walstream::bench {

struct WalEnd {
  uint32_t salt1 = 0, salt2 = 0;  // of the WAL header: they change at every WAL restart
  uint64_t offset = 0;            // WAL bytes through the last committed frame
};

class WalEndReader {
 public:
  // Opens DB-shm; the database must be in WAL mode and open in some connection.
  explicit WalEndReader(const std::string& db);
  // Throws walstream::Error when no consistent header can be read (a writer publishing one
  // concurrently is retried, within bounds).
  WalEnd read() const;

 private:
  std::string path_;
  UniqueFd fd_;
};

}  // namespace walstream::bench
