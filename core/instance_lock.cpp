#include "core/instance_lock.h"

#include <fcntl.h>
#include <unistd.h>

#include "core/printable_text.h"

namespace walstream {

namespace {

// Longer than any line a holder writes; what a stranger may have put there is cut.
constexpr size_t kMaxHolderText = 200;

}  // namespace

std::string instanceLockPath(const std::string& dbPath) {
  return dbPath + "-walstream/lock";
}

InstanceLock InstanceLock::acquire(const std::string& dbPath, std::string_view role) {
  const std::string path = instanceLockPath(dbPath);
  makeDirs(dirName(path));
  UniqueFd fd = openFile(path, O_RDWR | O_CREAT);
  // The whole file (length 0: to the end, however it grows), so any byte a later version locks
  // conflicts with it.
  OfdLock lock = OfdLock::tryAcquire(fd.get(), 0, 0, LockMode::Exclusive, path);
  if (!lock.held()) {
    const std::string holder = describeHolder(dbPath);
    throw InstanceLockBusy(dbPath + " is in use by " +
                           (holder.empty() ? std::string("another walstream process") : holder) +
                           " (" + path + " is locked); stop it first");
  }
  const std::string line =
      "walstream " + std::string(role) + " (pid " + std::to_string(::getpid()) + ")\n";
  if (::ftruncate(fd.get(), 0) != 0) throwErrno("cannot truncate", path);
  pwriteFull(fd.get(), line.data(), line.size(), 0, path);
  return InstanceLock(dbPath, std::move(fd), std::move(lock));
}

std::string InstanceLock::describeHolder(const std::string& dbPath) {
  std::string text;
  try {
    text = readFile(instanceLockPath(dbPath));
  } catch (const Error&) {
    return "";  // gone meanwhile, or unreadable: the lock file's name is said anyway
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
  return printableText(text, kMaxHolderText);
}

}  // namespace walstream
