// A SQLite VFS for tests that stands for a slow disk: it forwards everything to the default VFS,
// but a sync of a WAL file (SQLITE_OPEN_WAL) takes `delay` longer. An application connection
// opened with it (sqlite3_open_v2's last argument, or `vfs=` in a URI) then publishes each
// commit that long after writing its last frame, as on a disk whose fsync is slow.
#pragma once

#include <sqlite3.h>

#include <chrono>
#include <string>

namespace walstream::test {

class SlowSyncVfs {
 public:
  // Registers the VFS under `name` (not as the default); unregistered on destruction, which
  // must come after every connection that uses it has closed.
  SlowSyncVfs(std::string name, std::chrono::milliseconds delay);
  ~SlowSyncVfs();
  SlowSyncVfs(const SlowSyncVfs&) = delete;  // SQLite keeps pointers into it
  SlowSyncVfs& operator=(const SlowSyncVfs&) = delete;

  const std::string& name() const { return name_; }
  std::chrono::milliseconds delay() const { return delay_; }
  sqlite3_vfs* real() const { return real_; }
  const sqlite3_io_methods* methods() const { return &methods_; }

 private:
  const std::string name_;
  const std::chrono::milliseconds delay_;
  sqlite3_vfs* real_ = nullptr;
  sqlite3_io_methods methods_{};
  sqlite3_vfs vfs_{};
};

}  // namespace walstream::test
