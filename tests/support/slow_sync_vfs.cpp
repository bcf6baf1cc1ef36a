#include "tests/support/slow_sync_vfs.h"

#include <sqlite3.h>

#include <stdexcept>
#include <thread>

namespace walstream::test {

namespace {

// The file SQLite sees: our header, then the default VFS's file in the same allocation.
struct SlowFile {
  sqlite3_file base;
  sqlite3_file* real;
  const SlowSyncVfs* owner;
  bool wal;
};

sqlite3_file* realOf(sqlite3_file* f) {
  return reinterpret_cast<SlowFile*>(f)->real;
}

int xClose(sqlite3_file* f) {
  return realOf(f)->pMethods->xClose(realOf(f));
}
int xRead(sqlite3_file* f, void* b, int n, sqlite3_int64 o) {
  return realOf(f)->pMethods->xRead(realOf(f), b, n, o);
}
int xWrite(sqlite3_file* f, const void* b, int n, sqlite3_int64 o) {
  return realOf(f)->pMethods->xWrite(realOf(f), b, n, o);
}
int xTruncate(sqlite3_file* f, sqlite3_int64 size) {
  return realOf(f)->pMethods->xTruncate(realOf(f), size);
}
int xSync(sqlite3_file* f, int flags) {
  const auto* file = reinterpret_cast<SlowFile*>(f);
  // The slow disk being simulated: not a wait for a condition.
  if (file->wal) std::this_thread::sleep_for(file->owner->delay());
  return realOf(f)->pMethods->xSync(realOf(f), flags);
}
int xFileSize(sqlite3_file* f, sqlite3_int64* size) {
  return realOf(f)->pMethods->xFileSize(realOf(f), size);
}
int xLock(sqlite3_file* f, int level) {
  return realOf(f)->pMethods->xLock(realOf(f), level);
}
int xUnlock(sqlite3_file* f, int level) {
  return realOf(f)->pMethods->xUnlock(realOf(f), level);
}
int xCheckReservedLock(sqlite3_file* f, int* out) {
  return realOf(f)->pMethods->xCheckReservedLock(realOf(f), out);
}
int xFileControl(sqlite3_file* f, int op, void* arg) {
  return realOf(f)->pMethods->xFileControl(realOf(f), op, arg);
}
int xSectorSize(sqlite3_file* f) {
  return realOf(f)->pMethods->xSectorSize(realOf(f));
}
int xDeviceCharacteristics(sqlite3_file* f) {
  return realOf(f)->pMethods->xDeviceCharacteristics(realOf(f));
}
int xShmMap(sqlite3_file* f, int region, int size, int extend, void volatile** out) {
  return realOf(f)->pMethods->xShmMap(realOf(f), region, size, extend, out);
}
int xShmLock(sqlite3_file* f, int offset, int n, int flags) {
  return realOf(f)->pMethods->xShmLock(realOf(f), offset, n, flags);
}
void xShmBarrier(sqlite3_file* f) {
  realOf(f)->pMethods->xShmBarrier(realOf(f));
}
int xShmUnmap(sqlite3_file* f, int deleteFlag) {
  return realOf(f)->pMethods->xShmUnmap(realOf(f), deleteFlag);
}

int xOpen(sqlite3_vfs* vfs, const char* name, sqlite3_file* f, int flags, int* outFlags) {
  const auto* owner = static_cast<const SlowSyncVfs*>(vfs->pAppData);
  auto* file = reinterpret_cast<SlowFile*>(f);
  file->real = reinterpret_cast<sqlite3_file*>(file + 1);
  file->owner = owner;
  file->wal = (flags & SQLITE_OPEN_WAL) != 0;
  file->base.pMethods = nullptr;
  const int rc = owner->real()->xOpen(owner->real(), name, file->real, flags, outFlags);
  // Without methods SQLite does not call xClose: only a file the default VFS opened gets ours.
  if (file->real->pMethods != nullptr) file->base.pMethods = owner->methods();
  return rc;
}

sqlite3_io_methods forwardingMethods() {
  sqlite3_io_methods m{};
  m.iVersion = 2;  // shared memory, no memory mapping
  m.xClose = xClose;
  m.xRead = xRead;
  m.xWrite = xWrite;
  m.xTruncate = xTruncate;
  m.xSync = xSync;
  m.xFileSize = xFileSize;
  m.xLock = xLock;
  m.xUnlock = xUnlock;
  m.xCheckReservedLock = xCheckReservedLock;
  m.xFileControl = xFileControl;
  m.xSectorSize = xSectorSize;
  m.xDeviceCharacteristics = xDeviceCharacteristics;
  m.xShmMap = xShmMap;
  m.xShmLock = xShmLock;
  m.xShmBarrier = xShmBarrier;
  m.xShmUnmap = xShmUnmap;
  return m;
}

}  // namespace

SlowSyncVfs::SlowSyncVfs(std::string name, std::chrono::milliseconds delay)
    : name_(std::move(name)), delay_(delay), real_(sqlite3_vfs_find(nullptr)) {
  if (real_ == nullptr) throw std::runtime_error("no default SQLite VFS");
  methods_ = forwardingMethods();
  vfs_ = *real_;  // every other entry forwards as is: they take the VFS, not a file
  vfs_.iVersion = 1;
  vfs_.szOsFile = static_cast<int>(sizeof(SlowFile)) + real_->szOsFile;
  vfs_.pNext = nullptr;
  vfs_.zName = name_.c_str();
  vfs_.pAppData = this;
  vfs_.xOpen = xOpen;
  if (sqlite3_vfs_register(&vfs_, 0) != SQLITE_OK) {
    throw std::runtime_error("cannot register the VFS " + name_);
  }
}

SlowSyncVfs::~SlowSyncVfs() {
  sqlite3_vfs_unregister(&vfs_);
}

}  // namespace walstream::test
