// The sqlite3_io_methods of a main database opened through the walstream VFS: thin C glue
// around BackupFile (backup_file.h), version 1 (no xShm*: a rollback-mode read-only database
// needs no shared memory). Writes and truncation answer SQLITE_READONLY; sync does nothing.
#pragma once

#include <sqlite3.h>

#include "vfs/backup_file.h"

namespace walstream::vfs {

// What SQLite allocates for each file of the VFS (sqlite3_vfs::szOsFile, at least this).
struct WalstreamFile {
  sqlite3_file base;  // first: SQLite sees a sqlite3_file
  BackupFile* file;   // owned; deleted by xClose
};

const sqlite3_io_methods* backupFileMethods();

}  // namespace walstream::vfs
