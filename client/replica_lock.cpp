#include "client/replica_lock.h"

#include <fcntl.h>

namespace walstream::client {

std::string replicaLockPath(const std::string& localPath) {
  return localPath + "-walstream/lock";
}

std::optional<ReplicaLock> ReplicaLock::tryAcquire(const std::string& localPath) {
  const std::string path = replicaLockPath(localPath);
  makeDirs(dirName(path));
  UniqueFd fd = openFile(path, O_RDWR | O_CREAT);
  // The whole file (length 0: to the end, however it grows), so any byte a later version locks
  // conflicts with it.
  OfdLock lock = OfdLock::tryAcquire(fd.get(), 0, 0, LockMode::Exclusive, path);
  if (!lock.held()) return std::nullopt;
  return ReplicaLock(std::move(fd), std::move(lock));
}

}  // namespace walstream::client
