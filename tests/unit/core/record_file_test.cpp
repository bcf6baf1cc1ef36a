#include <doctest/doctest.h>

#include <sys/stat.h>

#include "core/error.h"
#include "core/file_util.h"
#include "core/record_file.h"
#include "tests/support/faulty_file_system.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;

namespace {

ino_t inodeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_ino;
}

}  // namespace

TEST_CASE("a record file is created on first write and rewritten in place") {
  TempDir dir;
  RecordFile f(dir.file("position"));
  CHECK_FALSE(pathExists(f.path()));
  f.write("aaaa\n", /*durable=*/true);
  CHECK(readFile(f.path()) == "aaaa\n");
  const ino_t inode = inodeOf(f.path());
  f.write("bbbb\n", /*durable=*/false);
  CHECK(readFile(f.path()) == "bbbb\n");
  f.write("cccc\n", /*durable=*/true);
  CHECK(readFile(f.path()) == "cccc\n");
  CHECK(inodeOf(f.path()) == inode);  // no tmp + rename: the same file throughout
  CHECK_FALSE(pathExists(f.path() + ".tmp"));
}

TEST_CASE("a record file replaces content of another length left by an older writer") {
  TempDir dir;
  writeFileAtomic(dir.file("position"), "a much longer line from an older format\n");
  RecordFile f(dir.file("position"));
  f.write("short\n", /*durable=*/true);
  CHECK(readFile(f.path()) == "short\n");

  writeFileAtomic(dir.file("other"), "x\n");
  RecordFile g(dir.file("other"));
  g.write("longer than before\n", /*durable=*/false);
  CHECK(readFile(g.path()) == "longer than before\n");
}

TEST_CASE("a removed record file is created again by the next write, not written unlinked") {
  TempDir dir;
  RecordFile f(dir.file("position"));
  f.write("one\n", /*durable=*/true);
  f.remove();
  CHECK_FALSE(pathExists(f.path()));
  f.remove();  // missing is fine
  f.write("two\n", /*durable=*/true);
  CHECK(readFile(f.path()) == "two\n");
}

TEST_CASE("a record file in a missing directory fails with the path") {
  TempDir dir;
  RecordFile f(dir.file("missing/position"));
  try {
    f.write("x\n", /*durable=*/true);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("missing/position") != std::string::npos);
  }
}

TEST_CASE("a flushed record file is found after a power failure, its name included") {
  // FaultyFileSystem's model of what a power failure keeps: a file created since its directory
  // was last fsynced may vanish, whatever fdatasync says about its data.
  TempDir dir;
  FaultyFileSystem fs;
  RecordFile f(dir.file("position"), fs);
  f.write("aaaa\n", /*durable=*/false);
  CHECK(fs.notDurable("position", dir.path()) == std::vector<std::string>{f.path()});
  SUBCASE("sync()") {
    f.sync();
  }
  SUBCASE("a durable write") {
    f.write("bbbb\n", /*durable=*/true);
  }
  // A failed sync may drop what it was to write and mark it clean (faulty_file_system.h): the
  // next sync must not count on syncing the same file again.
  SUBCASE("a sync whose directory fsync failed, then one that works") {
    Fault fault;
    fault.op = FsOp::kSyncDir;
    fs.addFault(fault);
    CHECK_THROWS_AS(f.sync(), Error);
    CHECK_FALSE(fs.notDurable("position", dir.path()).empty());
    f.sync();
  }
  SUBCASE("a sync whose fdatasync failed, then one that works") {
    Fault fault;
    fault.op = FsOp::kSync;
    fs.addFault(fault);
    CHECK_THROWS_AS(f.sync(), Error);
    f.sync();
    CHECK(readFile(f.path()) == "aaaa\n");
  }
  CHECK(fs.notDurable("position", dir.path()).empty());
  // Rewritten in place and flushed again: the data again, the name stays durable.
  f.write("cccc\n", /*durable=*/false);
  CHECK_FALSE(fs.notDurable("position", dir.path()).empty());
  f.sync();
  CHECK(fs.notDurable("position", dir.path()).empty());
}
