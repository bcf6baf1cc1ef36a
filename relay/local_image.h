// A relay's snapshot: the image of LOCAL_DB as a read transaction begun at a known applied
// position sees it (docs/cascading.md §4).
//
// The read transaction is begun while the applier's publish lock is held
// (client/applied_state_listener.h), so it sees exactly the state the relay last recorded: the
// upstream's position X, and LOCAL_DB's own WAL up to frame M (its mxFrame then, with its salts).
// The image is LOCAL_DB's database file overlaid with the last version of each page among WAL
// frames 1..M, cut to the database size of frame M's commit (or, with M = 0, the file's own page
// count). While the read transaction is held, no checkpoint copies a frame past M into the file
// and the WAL cannot restart (SQLite's WAL locking: docs/sqlite-wal.md), so every page read from
// the file that the overlay does not replace is as of X, and frames 1..M stay in place.
//
// The lease is revocable: before the applier closes its last connection to LOCAL_DB (which would
// drop the read transaction's POSIX locks) the relay revokes every lease; a revoked image fails
// its next read instead of reading pages that may have changed.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "core/file_util.h"
#include "core/pos.h"
#include "core/sqlite_conn.h"
#include "core/wal_segment.h"
#include "server/capture/snapshot.h"

namespace walstream::relay {

// The read transaction an image is read under.
struct ImageLease {
  std::mutex mu;  // held while pages are read, and to revoke
  bool revoked = false;
  std::unique_ptr<SqliteConnection> connection;  // holds the read transaction
  Pos pos;  // the snapshot's position: its index is kept in the relay's window while it lives
};

// What the read transaction sees, as the relay recorded it under the publish lock.
struct ImageState {
  Pos pos;
  uint32_t pageSize = 0;
  std::optional<WalChainState> chain;  // the upstream WAL's chain at pos, when known
  uint32_t localMxFrame = 0;
  std::array<uint8_t, 8> localSalt{};
};

// Begins the read transaction on `localPath` (to be called under the publish lock).
std::shared_ptr<ImageLease> beginImageRead(const std::string& localPath, const Pos& pos);

// Builds the image read under `lease` (no lock needed: the lease keeps it). `wanted` is asked
// between steps; answering false throws SnapshotAbandoned. Throws Error when LOCAL_DB's WAL is
// not the one recorded.
std::unique_ptr<SnapshotReader> openLocalImage(const std::string& localPath,
                                               std::shared_ptr<ImageLease> lease,
                                               const ImageState& state,
                                               const std::function<bool()>& wanted);

}  // namespace walstream::relay
