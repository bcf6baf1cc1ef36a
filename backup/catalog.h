// What a store holds for backups: generations, their snapshots and WAL objects, read from
// listings (names and sizes) and, where asked, from small ranged reads of the objects' own
// headers (positions and capture times). Used by the primary's backup to resume, by retention,
// by restore and by the listing commands.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "backup/snapshot_object.h"
#include "backup/wal_object.h"
#include "core/pos.h"
#include "storage/object_store.h"

namespace walstream::backup {

struct SnapshotEntry {
  std::string key;
  uint64_t generation = 0;
  uint64_t index = 0;  // of its position; the exact position is in its index (readSnapshotIndex)
  uint64_t size = 0;
  std::chrono::system_clock::time_point modified;
};

struct WalObjectEntry {
  std::string key;
  Pos start;
  uint64_t size = 0;
  std::chrono::system_clock::time_point modified;
};

struct GenerationListing {
  uint64_t generation = 0;
  std::vector<SnapshotEntry> snapshots;    // by index
  std::vector<WalObjectEntry> walObjects;  // by (index, offset)
};

// Generation ids under generations/, in numeric order (not an order in time).
std::vector<uint64_t> listGenerations(storage::ObjectStore& store);

// One generation's snapshots and WAL objects, from one listing of its prefix. Keys that do not
// parse (strays, another tool's files) are skipped.
GenerationListing listGeneration(storage::ObjectStore& store, uint64_t generation);

// The WAL objects of `generation` whose keys sort after `afterKey`, in position order (their
// keys sort as their positions do: 16 hex digits a part). A follower that remembers the last
// key it saw lists only what is new: with S3, requests in proportion to the new objects.
std::vector<WalObjectEntry> listWalObjectsAfter(storage::ObjectStore& store, uint64_t generation,
                                                const std::string& afterKey);

// A snapshot object's index (footer and index: two ranged reads). Throws as
// SnapshotObjectReader does.
SnapshotIndex readSnapshotIndex(storage::ObjectStore& store, const std::string& key);

// A WAL object's header (one ranged read, two when the header is large). Throws StorageError
// when it cannot be read, Error naming the key when it is not a valid header or does not start
// where its key says.
WalObjectHeader readWalObjectHeader(storage::ObjectStore& store, const WalObjectEntry& entry);
// The same with the header frame's length: the first segment's LZ4 frame starts there, and each
// next one where the one before ends (for readers that fetch single segments by range).
DecodedWalObjectHeader readDecodedWalObjectHeader(storage::ObjectStore& store,
                                                  const WalObjectEntry& entry);

}  // namespace walstream::backup
