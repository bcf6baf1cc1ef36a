#include <doctest/doctest.h>

#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "core/file_util.h"
#include "storage/directory_store.h"
#include "tests/support/object_store_calls.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::storage;
using namespace walstream::test;

namespace {

std::vector<std::string> keysOf(const std::vector<ObjectInfo>& objects) {
  std::vector<std::string> keys;
  for (const ObjectInfo& o : objects) keys.push_back(o.key);
  return keys;
}

using Keys = std::vector<std::string>;

}  // namespace

TEST_CASE("list returns every object under a prefix at any depth, sorted by key") {
  TempDir dir;
  DirectoryStore store(dir.path());
  for (const std::string key : {"a/e", "z", "a/b/d", "a/b/c", "ab/x"}) putObject(store, key, key);

  CHECK(keysOf(store.list("")) == Keys{"a/b/c", "a/b/d", "a/e", "ab/x", "z"});
  CHECK(keysOf(store.list("a/")) == Keys{"a/b/c", "a/b/d", "a/e"});
  CHECK(keysOf(store.list("a/b/")) == Keys{"a/b/c", "a/b/d"});
  // A prefix is a string prefix of keys, not only of directories.
  CHECK(keysOf(store.list("a")) == Keys{"a/b/c", "a/b/d", "a/e", "ab/x"});
  CHECK(keysOf(store.list("a/b")) == Keys{"a/b/c", "a/b/d"});
  CHECK(keysOf(store.list("a/b/c")) == Keys{"a/b/c"});
  CHECK(keysOf(store.list("a/e")) == Keys{"a/e"});
  CHECK(store.list("q/").empty());
  CHECK(store.list("a/b/c/").empty());
  CHECK(store.list("zz").empty());

  const std::vector<ObjectInfo> all = store.list("a/b/");
  REQUIRE(all.size() == 2);
  CHECK(all[0].size == 5);
  CHECK(all[0].modified == store.stat("a/b/c").modified);
}

TEST_CASE("listAfter returns the objects of list() whose keys sort after the given one") {
  TempDir dir;
  DirectoryStore store(dir.path());
  for (const std::string key : {"w/01/a", "w/01/b", "w/02/a", "w/03/a", "x"}) {
    putObject(store, key, key);
  }
  CHECK(keysOf(store.listAfter("w/", "")) == Keys{"w/01/a", "w/01/b", "w/02/a", "w/03/a"});
  CHECK(keysOf(store.listAfter("w/", "w/01/b")) == Keys{"w/02/a", "w/03/a"});
  CHECK(keysOf(store.listAfter("w/", "w/02")) == Keys{"w/02/a", "w/03/a"});
  CHECK(keysOf(store.listAfter("w/", "w/01/a0")) == Keys{"w/01/b", "w/02/a", "w/03/a"});
  CHECK(store.listAfter("w/", "w/03/a").empty());
}

TEST_CASE("list sorts by the bytes of whole keys, not directory by directory") {
  TempDir dir;
  DirectoryStore store(dir.path());
  // '-' < '/' < '0': "a-b" sorts before the keys inside "a/", "a0" after them.
  for (const std::string key : {"a0", "a/b", "a-b", "a/a/z"}) putObject(store, key, key);
  CHECK(keysOf(store.list("")) == Keys{"a-b", "a/a/z", "a/b", "a0"});
}

TEST_CASE("listDirectories names the next path parts of keys that go deeper") {
  TempDir dir;
  DirectoryStore store(dir.path());
  for (const std::string key : {"a/b/c", "a/b/d", "a/e", "f"}) putObject(store, key, key);

  CHECK(store.listDirectories("a/") == Keys{"b"});
  CHECK(store.listDirectories("") == Keys{"a"});
  CHECK(store.listDirectories("a/b/").empty());
  CHECK(store.listDirectories("nope/").empty());
  CHECK(store.listDirectories("f/").empty());
}

TEST_CASE("listDirectories is sorted and skips directories that hold no object") {
  TempDir dir;
  DirectoryStore store(dir.path());
  for (const std::string key : {"g/3/x", "g/1/deep/er/x", "g/2/x"}) putObject(store, key, key);
  makeDirs(dir.file("g/empty/emptier"));
  auto pending = store.create("g/pending/x");  // only a temporary file in it so far
  pending->write(std::string_view("x"));

  CHECK(store.listDirectories("g/") == Keys{"1", "2", "3"});
  CHECK(keysOf(store.list("g/")) == Keys{"g/1/deep/er/x", "g/2/x", "g/3/x"});
}

TEST_CASE("listings on a root that does not exist are empty") {
  TempDir dir;
  DirectoryStore store(dir.file("nothing/here"));
  CHECK(store.list("").empty());
  CHECK(store.list("a/b").empty());
  CHECK(store.listDirectories("").empty());
  CHECK(store.listDirectories("a/").empty());
}

TEST_CASE("temporary files never show in listings") {
  TempDir dir;
  DirectoryStore store(dir.path());
  putObject(store, "d/done", "d/done");
  auto pending = store.create("d/pending");
  pending->write(std::string_view("half"));
  auto other = store.create("e/pending");

  CHECK(keysOf(store.list("")) == Keys{"d/done"});
  CHECK(keysOf(store.list("d/")) == Keys{"d/done"});
  CHECK(keysOf(store.list("d/.")).empty());
  CHECK(store.listDirectories("") == Keys{"d"});
}

TEST_CASE("listings skip what is neither a regular file nor a directory, and odd names") {
  TempDir dir;
  DirectoryStore store(dir.path());
  putObject(store, "a/obj", "a/obj");
  REQUIRE(::symlink(dir.file("a/obj").c_str(), dir.file("link").c_str()) == 0);
  REQUIRE(::symlink(dir.file("a").c_str(), dir.file("dirlink").c_str()) == 0);
  REQUIRE(::mkfifo(dir.file("fifo").c_str(), 0644) == 0);
  makeDirs(dir.file("odd"));
  writeFileAtomic(dir.file("odd/new\nline"), "x");  // not a key: never listed

  CHECK(keysOf(store.list("")) == Keys{"a/obj"});
  CHECK(store.listDirectories("") == Keys{"a"});
  // What a listing skips is no object for stat() and read() either.
  for (const std::string key : {"link", "dirlink", "fifo"}) {
    CAPTURE(key);
    CHECK(storageFailure([&] { store.stat(key); })->kind() == StorageError::Kind::kNotFound);
    CHECK(storageFailure([&] { store.read(key, 0, 10); })->kind() == StorageError::Kind::kNotFound);
  }
}
