// Helpers for tests that need real WAL-mode SQLite databases and the bytes SQLite wrote.
//
// Locking rule (docs/sqlite-wal.md §4.5): closing any descriptor on a database file or its -shm
// drops every POSIX lock this process holds on it, SQLite's included. SQLite takes no locks on the
// -wal file, so readBytes() on a -wal is safe while connections are open; reading a db or -shm
// file that way is not. Map a -shm through one UniqueFd that outlives every connection instead.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/sqlite_conn.h"

namespace walstream::test {

struct WalDbOptions {
  uint32_t pageSize = 4096;     // applied only when the database file is new
  int autocheckpointPages = 0;  // PRAGMA wal_autocheckpoint; 0 = SQLite never checkpoints itself
  // On close, leave the -wal (and -shm) in place with every frame, and do not checkpoint into the
  // database file (SQLITE_FCNTL_PERSIST_WAL + SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE). The files left
  // behind are exactly a database whose last process died without checkpointing.
  bool keepWalOnClose = false;
};

// Opens `path` read-write (creating it) in journal_mode=WAL with the given settings. Throws Error.
std::unique_ptr<SqliteConnection> openWalDatabase(const std::string& path,
                                                  const WalDbOptions& options = {});

// A primary's database for tests that write rows: openWalDatabase with a 5 s busy timeout
// (capture takes the write lock briefly when it opens) and a table t(id INTEGER PRIMARY KEY,
// v TEXT).
std::unique_ptr<SqliteConnection> openRowsDatabase(const std::string& path);

// The rows of `sql`, each row's columns as text joined by '|' (NULL as "").
std::vector<std::string> queryRows(SqliteConnection& conn, std::string_view sql);

// The whole file as bytes; throws Error naming the path when it cannot be read.
std::vector<uint8_t> readBytes(const std::string& path);
// Replaces the file's content (creating it); throws Error naming the path.
void writeBytes(const std::string& path, std::span<const uint8_t> bytes);

// One commit-aligned piece of a WAL file: bytes [offset, offset + bytes.size()).
struct WalSlice {
  uint64_t offset = 0;
  std::vector<uint8_t> bytes;
  size_t frames = 0;
  size_t transactions = 0;
};

// Splits the valid part of a WAL file's bytes into slices ending on commit frames, at most
// `transactionsPerSlice` transactions each; the first slice begins with the 32-byte header.
// "Valid" is judged only by layout and salts (checksums are not verified here, so tests can
// check them independently): frames stop at the first one with other salts or a partial frame,
// and frames after the last commit frame are left out. Empty when the header is unusable.
std::vector<WalSlice> splitWalAtCommits(std::span<const uint8_t> wal,
                                        size_t transactionsPerSlice = 1);

}  // namespace walstream::test
