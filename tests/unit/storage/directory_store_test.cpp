#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

#include "core/file_util.h"
#include "storage/directory_store.h"
#include "tests/support/object_store_calls.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::storage;
using namespace walstream::test;

namespace {

constexpr uint64_t kAll = std::numeric_limits<uint64_t>::max();

std::string patterned(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

}  // namespace

TEST_CASE("an object written in pieces reads back whole, as the file ROOT/KEY") {
  TempDir dir;
  DirectoryStore store(dir.path());
  const auto before = std::chrono::system_clock::now() - std::chrono::seconds(2);

  auto writer = store.create("a/b/c.bin");
  writer->write(std::string_view("hello, "));
  writer->write(std::string_view(""));
  writer->write(std::string_view("world"));
  CHECK(writer->bytesWritten() == 12);
  writer->commit();
  CHECK(writer->bytesWritten() == 12);

  CHECK(store.read("a/b/c.bin", 0, kAll) == "hello, world");
  CHECK(readFile(dir.file("a/b/c.bin")) == "hello, world");
  const ObjectInfo info = store.stat("a/b/c.bin");
  CHECK(info.key == "a/b/c.bin");
  CHECK(info.size == 12);
  CHECK(info.modified > before);
  CHECK(info.modified < std::chrono::system_clock::now() + std::chrono::seconds(2));
  CHECK(dir.files() == std::vector<std::string>{"a/b/c.bin"});
  CHECK(store.url() == "file://" + dir.path());
}

TEST_CASE("an empty object exists once committed") {
  TempDir dir;
  DirectoryStore store(dir.path());
  store.create("empty")->commit();
  CHECK(store.stat("empty").size == 0);
  CHECK(store.read("empty", 0, 10).empty());
  CHECK(store.list("").size() == 1);
}

TEST_CASE("ranged reads return what lies inside the object, never more") {
  TempDir dir;
  DirectoryStore store(dir.path());
  const std::string content = patterned(1000);
  putObject(store, "obj", content);

  CHECK(store.read("obj", 0, 1000) == content);
  CHECK(store.read("obj", 10, 20) == content.substr(10, 20));
  CHECK(store.read("obj", 990, 100) == content.substr(990));
  CHECK(store.read("obj", 999, 1) == content.substr(999));
  CHECK(store.read("obj", 0, 0).empty());
  CHECK(store.read("obj", 1000, 5).empty());
  CHECK(store.read("obj", 5000, 5).empty());
  CHECK(store.read("obj", kAll, kAll).empty());
  // A huge maxBytes is bounded by the file's size (an allocation of maxBytes would fail).
  CHECK(store.read("obj", 0, kAll) == content);
  CHECK(store.read("obj", 500, kAll) == content.substr(500));
}

TEST_CASE("a missing object is kNotFound for stat and read, naming the store and the key") {
  TempDir dir;
  DirectoryStore store(dir.path());
  putObject(store, "a/file", "x");
  // A missing file, a file where a directory of the key would be, a directory where the object
  // would be, a root that does not exist: no such object, each time.
  for (const std::string key : {"nope", "a/nope", "a/file/below", "a"}) {
    CAPTURE(key);
    for (auto failure : {storageFailure([&] { store.stat(key); }),
                         storageFailure([&] { store.read(key, 0, 1); })}) {
      REQUIRE(failure);
      CHECK(failure->kind() == StorageError::Kind::kNotFound);
      const std::string message = failure->what();
      CHECK(message.find("file://" + dir.path() + ": cannot ") == 0);
      CHECK(message.find(" " + key + ": ") != std::string::npos);
    }
  }
  DirectoryStore absent(dir.file("absent"));
  CHECK(storageFailure([&] { absent.stat("k"); })->kind() == StorageError::Kind::kNotFound);
  CHECK(storageFailure([&] { absent.read("k", 0, 1); })->kind() == StorageError::Kind::kNotFound);
}

TEST_CASE("a writer that is not committed leaves nothing, not even its temporary file") {
  TempDir dir;
  DirectoryStore store(dir.path());
  {
    auto writer = store.create("a/b/obj");
    writer->write(std::string_view("partial"));
    // The bytes are in a temporary file that no call of the store returns.
    REQUIRE(dir.files().size() == 1);
    CHECK(dir.files()[0].find("a/b/.obj.tmp-") == 0);
    CHECK(store.list("").empty());
    CHECK(store.listDirectories("").empty());
    CHECK(storageFailure([&] { store.stat("a/b/obj"); })->kind() == StorageError::Kind::kNotFound);
  }
  CHECK(dir.files().empty());
  CHECK(store.list("").empty());
}

TEST_CASE("replacing an object is atomic: the old content is read until the commit") {
  TempDir dir;
  DirectoryStore store(dir.path());
  putObject(store, "k", "old content");

  auto writer = store.create("k");
  writer->write(std::string_view("new"));
  CHECK(store.read("k", 0, kAll) == "old content");
  CHECK(store.list("").size() == 1);
  writer->commit();
  CHECK(store.read("k", 0, kAll) == "new");
  CHECK(dir.files() == std::vector<std::string>{"k"});
}

TEST_CASE("writers of one key write to different temporary files; the last commit wins") {
  TempDir dir;
  DirectoryStore store(dir.path());
  auto first = store.create("k");
  auto second = store.create("k");
  first->write(std::string_view("first"));
  second->write(std::string_view("second"));
  CHECK(dir.files().size() == 2);
  first->commit();
  second->commit();
  CHECK(store.read("k", 0, kAll) == "second");
  CHECK(dir.files() == std::vector<std::string>{"k"});
}

TEST_CASE("a finished writer refuses further writes and commits") {
  TempDir dir;
  DirectoryStore store(dir.path());
  auto writer = store.create("k");
  writer->commit();
  for (auto failure : {storageFailure([&] { writer->write(std::string_view("x")); }),
                       storageFailure([&] { writer->commit(); })}) {
    REQUIRE(failure);
    CHECK(failure->kind() == StorageError::Kind::kPermanent);
    CHECK(std::string(failure->what()).find("the writer is finished") != std::string::npos);
  }
  CHECK(store.stat("k").size == 0);
}

TEST_CASE("a key that collides with an object or a directory cannot be written") {
  TempDir dir;
  DirectoryStore store(dir.path());
  putObject(store, "a/b", "x");
  // "a/b" is a file, so "a/b/c" has no directory; "a" is a directory, so no object "a".
  CHECK(storageFailure([&] { putObject(store, "a/b/c", "y"); })->kind() ==
        StorageError::Kind::kPermanent);
  CHECK(storageFailure([&] { putObject(store, "a", "y"); })->kind() ==
        StorageError::Kind::kPermanent);
  CHECK(dir.files() == std::vector<std::string>{"a/b"});
}

TEST_CASE("a name too long for the file system is a permanent failure") {
  TempDir dir;
  DirectoryStore store(dir.path());
  auto failure = storageFailure([&] { putObject(store, std::string(300, 'n'), "x"); });
  REQUIRE(failure);
  CHECK(failure->kind() == StorageError::Kind::kPermanent);
  CHECK(dir.files().empty());
}
