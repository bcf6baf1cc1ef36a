// One walstream process per database: DB-walstream/lock, an empty-ish file on which the process
// that works on DB's walstream directory holds an exclusive OFD lock (core/ofd_lock.h) for as
// long as it does. `walstream primary` takes it for every database it captures, `walstream
// replica` for its LOCAL_DB, `walstream promote` for the promotion.
//
// Two primaries on one database would write one shadow WAL (each believes it owns the tail), a
// replica applying into a primary's database would write the application's own WAL, and a
// promote beside a running replica would checkpoint under its appender: each loses or corrupts
// data, so the second process is refused, with the first one named.
//
// SQLite's own locks cannot tell these processes apart (stock readers hold the same ranges). The
// lock file is opened by no SQLite connection, so closing a database descriptor can never drop
// the lock (docs/sqlite-wal.md §4.5); the kernel releases it when the holder's last descriptor of
// it closes, which includes any exit or crash, so no stale lock is ever left behind. After taking
// the lock the holder writes one line naming itself into the file; the line is only read while
// the lock is held by someone, so it names the current holder (or, for the instant between a
// new holder's lock and its write, the previous one).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/file_util.h"
#include "core/ofd_lock.h"

namespace walstream {

std::string instanceLockPath(const std::string& dbPath);

class InstanceLock {
 public:
  // One non-blocking attempt; creates DB-walstream/ and the file. `role` says who holds it
  // ("primary", "replica", "promote") in the line written for the next process. Throws
  // InstanceLockBusy while another process (or another InstanceLock of this one) holds it, and
  // Error on any other failure.
  static InstanceLock acquire(const std::string& dbPath, std::string_view role);

  // What the holder wrote about itself, e.g. "walstream primary (pid 4242)"; "" if nothing.
  static std::string describeHolder(const std::string& dbPath);

  // The database acquire() was given: what a function that needs the lock held checks.
  const std::string& dbPath() const { return dbPath_; }

 private:
  InstanceLock(std::string dbPath, UniqueFd fd, OfdLock lock)
      : dbPath_(std::move(dbPath)), fd_(std::move(fd)), lock_(std::move(lock)) {}

  std::string dbPath_;
  UniqueFd fd_;   // open for as long as the lock is held
  OfdLock lock_;  // declared after fd_: released before it closes
};

// acquire() found the lock held; what() names the database, the holder and the lock file.
class InstanceLockBusy : public Error {
 public:
  using Error::Error;
};

}  // namespace walstream
