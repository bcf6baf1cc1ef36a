// The entry point of libwalstream_vfs.so, the walstream VFS as a loadable SQLite extension
// (docs/vfs.md §1). SQLite derives the symbol from the file name: libwalstream_vfs.so ->
// sqlite3_walstreamvfs_init. Only this file sees <sqlite3ext.h>: the VFS itself (vfs/) calls the
// shared libsqlite3 directly, which must be the host's SQLite (linked_sqlite.h).
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT1

#include "vfs/linked_sqlite.h"
#include "vfs/walstream_vfs.h"

extern "C" __attribute__((visibility("default"))) int sqlite3_walstreamvfs_init(
    sqlite3* db, char** errorMessage, const sqlite3_api_routines* api) {
  SQLITE_EXTENSION_INIT2(api);
  if (api->libversion_number != walstream::vfs::linkedSqliteVersionFunction()) {
    *errorMessage = sqlite3_mprintf(
        "walstream vfs: this program carries its own SQLite; the extension works with the shared "
        "libsqlite3 only (link walstream_vfs_core and call walstream_vfs_register instead)");
    return SQLITE_ERROR;
  }
  int rc = walstream_vfs_register("walstream", 0);
  if (rc == SQLITE_OK) rc = walstream_vfs_register_functions(db);
  if (rc != SQLITE_OK) {
    *errorMessage = sqlite3_mprintf("walstream vfs: cannot register: %s", sqlite3_errstr(rc));
    return rc;
  }
  return SQLITE_OK_LOAD_PERMANENTLY;  // the VFS outlives the connection that loaded it
}
