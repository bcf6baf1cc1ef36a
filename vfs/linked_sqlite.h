// Which SQLite this library calls. The VFS registers itself with the sqlite3_* functions it is
// linked against (the shared libsqlite3); a host that carries a copy of SQLite of its own would
// get the VFS registered in the other copy, where its connections never find it. The extension's
// entry point compares the host's function (from sqlite3_api_routines) with this one and
// refuses to load on a mismatch.
#pragma once

namespace walstream::vfs {

using SqliteVersionFunction = int (*)();
SqliteVersionFunction linkedSqliteVersionFunction();

}  // namespace walstream::vfs
