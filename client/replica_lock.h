// Who works on LOCAL_DB: LOCAL_DB-walstream/lock, an empty file on which `walstream replica`
// holds an exclusive OFD lock (client/apply/ofd_lock.h) for its whole run, and `walstream
// promote` for the promotion's (docs/promotion.md §1).
//
// SQLite's own locks cannot tell a running replica apart: stock readers of LOCAL_DB hold the
// same SHARED and DMS ranges the appender holds. The lock file is opened by no one else, so
// no SQLite connection can drop the lock by closing a descriptor (docs/sqlite-wal.md §4.5);
// the kernel releases it when the holder's last descriptor closes, which includes any exit,
// so a crashed holder never leaves a stale lock behind.
#pragma once

#include <optional>
#include <string>

#include "client/apply/ofd_lock.h"
#include "core/file_util.h"

namespace walstream::client {

std::string replicaLockPath(const std::string& localPath);

class ReplicaLock {
 public:
  // One non-blocking attempt; creates the directory and the file. nullopt while another
  // process (or another ReplicaLock of this one) holds it; throws Error on any other failure.
  static std::optional<ReplicaLock> tryAcquire(const std::string& localPath);

 private:
  ReplicaLock(UniqueFd fd, OfdLock lock) : fd_(std::move(fd)), lock_(std::move(lock)) {}

  UniqueFd fd_;   // open for as long as the lock is held
  OfdLock lock_;  // declared after fd_: released before it closes
};

}  // namespace walstream::client
