/* The walstream VFS: a read-only SQLite VFS that reads a database straight from a walstream
** backup (docs/vfs.md). Loaded into any SQLite as an extension (libwalstream_vfs.so, whose entry
** point calls walstream_vfs_register), or linked in-process from C or C++ (walstream_vfs_core):
**
**   walstream_vfs_register("walstream", 0);
**   sqlite3_open_v2("file:app.db?vfs=walstream&backup=file%3A%2F%2F%2Fsrv%2Fbackups%2Fapp",
**                   &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
**
** The URI parameters (backup, cache-size, poll, s3-credentials) are listed in vfs/source_options.h.
*/
#ifndef WALSTREAM_VFS_H
#define WALSTREAM_VFS_H

#ifdef __cplusplus
extern "C" {
#endif

struct sqlite3;

/* sqlite3_file_control(db, "main", WALSTREAM_VFS_FCNTL_LAST_ERROR, &text) sets the char* text to
** the cause of the file's last storage failure (the one behind an SQLITE_IOERR), or to NULL when
** there was none; free it with sqlite3_free(). SQLITE_NOTFOUND for a file of another VFS. */
#define WALSTREAM_VFS_FCNTL_LAST_ERROR 0x57530001
/* The same for the position of the backup the file's current read transaction sees:
** "<generation>/<index>:<offset>" (16 hex digits each), as walstream prints positions. */
#define WALSTREAM_VFS_FCNTL_POSITION 0x57530002

/* Registers the VFS under `name` (the default VFS too when makeDefault is non-zero), and, for
** every connection opened afterwards, the SQL functions walstream_vfs_error() and
** walstream_vfs_position() (the two file controls above for the main database, NULL for a
** database of another VFS). Registering a name that exists already does nothing. Returns an
** SQLite result code. */
int walstream_vfs_register(const char* name, int makeDefault);

/* The two SQL functions on one connection opened before walstream_vfs_register. */
int walstream_vfs_register_functions(struct sqlite3* db);

#ifdef __cplusplus
}
#endif

#endif /* WALSTREAM_VFS_H */
