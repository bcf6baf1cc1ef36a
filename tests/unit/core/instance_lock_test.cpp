#include "core/instance_lock.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <optional>
#include <string>

#include "core/file_util.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;

namespace {

std::string busyMessage(const std::string& db, const char* role) {
  try {
    InstanceLock::acquire(db, role);
  } catch (const InstanceLockBusy& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("the instance lock is held once per database, names its holder, and is released") {
  TempDir dir;
  const std::string db = dir.file("app.db"), other = dir.file("other.db");
  std::optional<InstanceLock> held = InstanceLock::acquire(db, "primary");
  const std::string self = "walstream primary (pid " + std::to_string(::getpid()) + ")";
  CHECK(InstanceLock::describeHolder(db) == self);
  // A second holder in this process is refused too: OFD locks belong to the open file
  // description, not to the process.
  CHECK(busyMessage(db, "replica") ==
        db + " is in use by " + self + " (" + instanceLockPath(db) + " is locked); stop it first");
  // Another database is another lock.
  CHECK_NOTHROW(InstanceLock::acquire(other, "replica"));
  held.reset();
  std::optional<InstanceLock> next = InstanceLock::acquire(db, "replica");
  CHECK(InstanceLock::describeHolder(db) ==
        "walstream replica (pid " + std::to_string(::getpid()) + ")");
}

TEST_CASE("closing another descriptor of the lock file does not drop the instance lock") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  const InstanceLock held = InstanceLock::acquire(db, "primary");
  // What a POSIX lock would lose: a descriptor of the same file opened and closed elsewhere in
  // the process (a SQLite connection closing does exactly this to the database's locks).
  { UniqueFd fd = openFile(instanceLockPath(db), O_RDONLY); }
  CHECK(!busyMessage(db, "replica").empty());
}

TEST_CASE("the holder's line is shown printable and bounded, whatever the file holds") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  CHECK(InstanceLock::describeHolder(db).empty());  // no file at all
  makeDirs(db + "-walstream");
  writeFileAtomic(instanceLockPath(db), std::string("evil\x1b[2J\n") + std::string(5000, 'x'));
  const std::string shown = InstanceLock::describeHolder(db);
  CHECK(shown.find('\x1b') == std::string::npos);
  CHECK(shown.find('\n') == std::string::npos);
  CHECK(shown.size() < 300);
  CHECK(shown.rfind("evil\\x1b[2J", 0) == 0);
}
