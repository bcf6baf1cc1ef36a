// The sqlite3_vfs of walstream_vfs.h: main databases are backup files (backup_file.h); temporary
// files (sorting, temp tables, statement journals) go to the VFS that was the default when this
// one was registered; journals and WAL files cannot be opened and never exist.
#include "vfs/walstream_vfs.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdlib>
#include <exception>
#include <new>
#include <string>

#include "vfs/io_methods.h"
#include "vfs/linked_sqlite.h"
#include "vfs/source_registry.h"

namespace walstream::vfs {

namespace {

// The VFS and what it shares, allocated once per registered name and never freed: SQLite's VFS
// list keeps pointing at it for the life of the process.
struct RegisteredVfs {
  sqlite3_vfs vfs{};
  sqlite3_vfs* fallback = nullptr;  // for temporary files and the operating-system services
  std::string name;
  SourceRegistry sources;
};

RegisteredVfs& stateOf(sqlite3_vfs* vfs) {
  return *static_cast<RegisteredVfs*>(vfs->pAppData);
}
sqlite3_vfs* fallbackOf(sqlite3_vfs* vfs) {
  return stateOf(vfs).fallback;
}

constexpr int kTemporaryFiles = SQLITE_OPEN_TEMP_DB | SQLITE_OPEN_TEMP_JOURNAL |
                                SQLITE_OPEN_TRANSIENT_DB | SQLITE_OPEN_SUBJOURNAL;

int openBackupFile(sqlite3_vfs* vfs, const char* name, WalstreamFile* file, int flags,
                   int* outFlags) {
  try {
    const SourceOptions options =
        parseSourceOptions([name](const char* p) { return sqlite3_uri_parameter(name, p); },
                           std::getenv(kBackupEnvironmentVariable));
    file->file = new BackupFile(stateOf(vfs).sources.acquire(options));
  } catch (const std::exception& e) {
    sqlite3_log(SQLITE_CANTOPEN, "walstream vfs: cannot open %s: %s", name, e.what());
    return SQLITE_CANTOPEN;
  }
  file->base.pMethods = backupFileMethods();
  if (outFlags != nullptr) {
    *outFlags = (flags & ~(SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_READONLY;
  }
  return SQLITE_OK;
}

int xOpen(sqlite3_vfs* vfs, const char* name, sqlite3_file* file, int flags, int* outFlags) {
  if ((flags & kTemporaryFiles) != 0 || name == nullptr) {
    sqlite3_vfs* fallback = fallbackOf(vfs);
    return fallback->xOpen(fallback, name, file, flags, outFlags);
  }
  auto* f = reinterpret_cast<WalstreamFile*>(file);
  f->base.pMethods = nullptr;  // SQLite does not close a file whose open failed
  f->file = nullptr;
  if ((flags & SQLITE_OPEN_MAIN_DB) == 0) return SQLITE_CANTOPEN;  // a journal or a WAL file
  return openBackupFile(vfs, name, f, flags, outFlags);
}

int xDelete(sqlite3_vfs*, const char*, int) {
  return SQLITE_OK;  // nothing this VFS opens exists on disk to delete
}

int xAccess(sqlite3_vfs*, const char*, int, int* result) {
  *result = 0;  // no -journal, no -wal: nothing beside the database exists
  return SQLITE_OK;
}

int xFullPathname(sqlite3_vfs*, const char* name, int size, char* out) {
  sqlite3_snprintf(size, out, "%s", name);  // a name, not a path: nothing is read from disk
  return SQLITE_OK;
}

void* xDlOpen(sqlite3_vfs* vfs, const char* path) {
  return fallbackOf(vfs)->xDlOpen(fallbackOf(vfs), path);
}
void xDlError(sqlite3_vfs* vfs, int n, char* out) {
  fallbackOf(vfs)->xDlError(fallbackOf(vfs), n, out);
}
void (*xDlSym(sqlite3_vfs* vfs, void* handle, const char* symbol))(void) {
  return fallbackOf(vfs)->xDlSym(fallbackOf(vfs), handle, symbol);
}
void xDlClose(sqlite3_vfs* vfs, void* handle) {
  fallbackOf(vfs)->xDlClose(fallbackOf(vfs), handle);
}
int xRandomness(sqlite3_vfs* vfs, int n, char* out) {
  return fallbackOf(vfs)->xRandomness(fallbackOf(vfs), n, out);
}
int xSleep(sqlite3_vfs* vfs, int micros) {
  return fallbackOf(vfs)->xSleep(fallbackOf(vfs), micros);
}
int xCurrentTime(sqlite3_vfs* vfs, double* now) {
  return fallbackOf(vfs)->xCurrentTime(fallbackOf(vfs), now);
}
int xGetLastError(sqlite3_vfs* vfs, int n, char* out) {
  return fallbackOf(vfs)->xGetLastError(fallbackOf(vfs), n, out);
}
int xCurrentTimeInt64(sqlite3_vfs* vfs, sqlite3_int64* now) {
  return fallbackOf(vfs)->xCurrentTimeInt64(fallbackOf(vfs), now);
}

// walstream_vfs_error() and walstream_vfs_position(): a file control's text for "main".
void fileText(sqlite3_context* context, int op) {
  char* text = nullptr;
  if (sqlite3_file_control(sqlite3_context_db_handle(context), "main", op, &text) == SQLITE_OK &&
      text != nullptr) {
    sqlite3_result_text(context, text, -1, sqlite3_free);
  } else {
    sqlite3_result_null(context);
  }
}
void lastErrorFunction(sqlite3_context* context, int, sqlite3_value**) {
  fileText(context, WALSTREAM_VFS_FCNTL_LAST_ERROR);
}
void positionFunction(sqlite3_context* context, int, sqlite3_value**) {
  fileText(context, WALSTREAM_VFS_FCNTL_POSITION);
}

int registerOnOpen(sqlite3* db, char**, const void*) {
  return walstream_vfs_register_functions(db);
}

RegisteredVfs* newVfs(const char* name, sqlite3_vfs* fallback) {
  auto* state = new RegisteredVfs;
  state->fallback = fallback;
  state->name = name;
  sqlite3_vfs& v = state->vfs;
  v.iVersion = 2;
  v.szOsFile = std::max(static_cast<int>(sizeof(WalstreamFile)), fallback->szOsFile);
  v.mxPathname = std::max(fallback->mxPathname, 1024);
  v.zName = state->name.c_str();
  v.pAppData = state;
  v.xOpen = xOpen;
  v.xDelete = xDelete;
  v.xAccess = xAccess;
  v.xFullPathname = xFullPathname;
  v.xDlOpen = xDlOpen;
  v.xDlError = xDlError;
  v.xDlSym = xDlSym;
  v.xDlClose = xDlClose;
  v.xRandomness = xRandomness;
  v.xSleep = xSleep;
  v.xCurrentTime = xCurrentTime;
  v.xGetLastError = xGetLastError;
  v.xCurrentTimeInt64 = xCurrentTimeInt64;
  return state;
}

}  // namespace

}  // namespace walstream::vfs

extern "C" int walstream_vfs_register_functions(sqlite3* db) {
  using namespace walstream::vfs;
  const int flags = SQLITE_UTF8 | SQLITE_DIRECTONLY;
  int rc = sqlite3_create_function_v2(db, "walstream_vfs_error", 0, flags, nullptr,
                                      lastErrorFunction, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return rc;
  return sqlite3_create_function_v2(db, "walstream_vfs_position", 0, flags, nullptr,
                                    positionFunction, nullptr, nullptr, nullptr);
}

extern "C" int walstream_vfs_register(const char* name, int makeDefault) {
  using namespace walstream::vfs;
  if (int rc = sqlite3_initialize(); rc != SQLITE_OK) return rc;
  if (sqlite3_vfs_find(name) != nullptr) return SQLITE_OK;
  sqlite3_vfs* fallback = sqlite3_vfs_find(nullptr);
  if (fallback == nullptr) return SQLITE_ERROR;
  RegisteredVfs* state = nullptr;
  try {
    state = newVfs(name, fallback);
  } catch (const std::bad_alloc&) {
    return SQLITE_NOMEM;
  }
  if (int rc = sqlite3_vfs_register(&state->vfs, makeDefault); rc != SQLITE_OK) {
    delete state;
    return rc;
  }
  return sqlite3_auto_extension(reinterpret_cast<void (*)()>(registerOnOpen));
}

walstream::vfs::SqliteVersionFunction walstream::vfs::linkedSqliteVersionFunction() {
  return &sqlite3_libversion_number;
}
