// Page 1 as the VFS serves it: the database header (SQLite's file format, "The Database Header")
// with the fields that make a backed-up WAL-mode database read as a read-only rollback-mode
// database whose changes SQLite notices between transactions (docs/vfs.md §2):
//
//   offset 18, 19   file format write / read version: 1 (legacy, rollback journal), so that
//                   SQLite never opens the database in WAL mode (no -wal, no -shm)
//   offset 24..27   file change counter: the view's version (big-endian), which increases with
//                   every view published. SQLite's pager compares bytes 24..39 at the start of
//                   each read transaction and drops its page cache when they changed.
//   offset 28..31   database size in pages: the view's page count
//   offset 92..95   version-valid-for: the same counter, so that SQLite trusts offset 28
#pragma once

#include <cstdint>
#include <span>

namespace walstream::vfs {

// `page` is page 1, at least 100 bytes.
void patchPageOne(std::span<uint8_t> page, uint64_t version, uint32_t pageCount);

}  // namespace walstream::vfs
