#include "vfs/io_methods.h"

#include "vfs/walstream_vfs.h"

namespace walstream::vfs {

namespace {

BackupFile& fileOf(sqlite3_file* f) {
  return *reinterpret_cast<WalstreamFile*>(f)->file;
}

int xClose(sqlite3_file* f) {
  delete reinterpret_cast<WalstreamFile*>(f)->file;
  reinterpret_cast<WalstreamFile*>(f)->file = nullptr;
  return SQLITE_OK;
}

int xRead(sqlite3_file* f, void* buffer, int amount, sqlite3_int64 offset) {
  return fileOf(f).read(buffer, amount, offset);
}

int xWrite(sqlite3_file*, const void*, int, sqlite3_int64) {
  return SQLITE_READONLY;
}
int xTruncate(sqlite3_file*, sqlite3_int64) {
  return SQLITE_READONLY;
}
int xSync(sqlite3_file*, int) {
  return SQLITE_OK;
}

int xFileSize(sqlite3_file* f, sqlite3_int64* size) {
  *size = fileOf(f).size();
  return SQLITE_OK;
}

int xLock(sqlite3_file* f, int level) {
  fileOf(f).lock(level);
  return SQLITE_OK;
}

int xUnlock(sqlite3_file* f, int level) {
  fileOf(f).unlock(level);
  return SQLITE_OK;
}

int xCheckReservedLock(sqlite3_file*, int* reserved) {
  *reserved = 0;  // nobody writes through this VFS
  return SQLITE_OK;
}

// Sets *out to a copy SQLite's caller frees, or null for empty text.
int textResult(void* out, const std::string& text) {
  *static_cast<char**>(out) = text.empty() ? nullptr : sqlite3_mprintf("%s", text.c_str());
  return SQLITE_OK;
}

int xFileControl(sqlite3_file* f, int op, void* arg) {
  switch (op) {
    case WALSTREAM_VFS_FCNTL_LAST_ERROR:
      return textResult(arg, fileOf(f).lastError());
    case WALSTREAM_VFS_FCNTL_POSITION:
      return textResult(arg, fileOf(f).view().position.str());
    default:
      return SQLITE_NOTFOUND;
  }
}

int xSectorSize(sqlite3_file*) {
  return 4096;
}
int xDeviceCharacteristics(sqlite3_file*) {
  return 0;
}

const sqlite3_io_methods kMethods = {
    1,  // iVersion: no shared memory, no memory mapping
    xClose,
    xRead,
    xWrite,
    xTruncate,
    xSync,
    xFileSize,
    xLock,
    xUnlock,
    xCheckReservedLock,
    xFileControl,
    xSectorSize,
    xDeviceCharacteristics,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
    nullptr,
};

}  // namespace

const sqlite3_io_methods* backupFileMethods() {
  return &kMethods;
}

}  // namespace walstream::vfs
