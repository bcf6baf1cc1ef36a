// Names of backup objects in a store (storage/object_store.h); docs/backup.md §2.
//
//   generations/<gen>/snapshots/<index>.snapshot.lz4     snapshot_object.h
//   generations/<gen>/wal/<index>/<offset>.wal.lz4       wal_object.h
//
// <gen>, <index> and <offset> are 16 lowercase hex digits, as in positions (core/pos.h). A
// snapshot is named by the WAL index of its position only: its exact position is in its own
// index. Keys that do not parse (temporary files, strays) are ignored by listings.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/pos.h"

namespace walstream::backup {

std::string generationsPrefix();                    // "generations/"
std::string generationPrefix(uint64_t generation);  // "generations/<gen>/"
std::string snapshotsPrefix(uint64_t generation);   // "generations/<gen>/snapshots/"
std::string walPrefix(uint64_t generation);         // "generations/<gen>/wal/"
std::string snapshotKey(uint64_t generation, uint64_t index);
std::string walObjectKey(const Pos& start);

// A generation directory name: 16 lowercase hex digits, not zero.
std::optional<uint64_t> parseGenerationName(const std::string& name);

struct SnapshotKey {
  uint64_t generation = 0;
  uint64_t index = 0;
};
std::optional<SnapshotKey> parseSnapshotKey(const std::string& key);

// The position a WAL object starts at.
std::optional<Pos> parseWalObjectKey(const std::string& key);

}  // namespace walstream::backup
