#include <doctest/doctest.h>

#include <string>

#include "core/file_util.h"
#include "storage/directory_store.h"
#include "storage/object_store.h"
#include "tests/support/object_store_calls.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::storage;
using namespace walstream::test;

namespace {

std::string rootOf(const std::string& url) {
  auto store = openObjectStore(url);
  auto* directory = dynamic_cast<DirectoryStore*>(store.get());
  REQUIRE(directory != nullptr);
  return directory->root();
}

}  // namespace

TEST_CASE("a file URL opens a directory store on its absolute path") {
  CHECK(rootOf("file:///srv/backups/app") == "/srv/backups/app");
  CHECK(rootOf("file:///srv/backups/app/") == "/srv/backups/app");
  CHECK(rootOf("file:///srv/backups/app//") == "/srv/backups/app");
  CHECK(rootOf("file://localhost/srv/backups") == "/srv/backups");
  CHECK(rootOf("FILE:///srv/backups") == "/srv/backups");
  CHECK(openObjectStore("file:///srv/backups/app/")->url() == "file:///srv/backups/app");
}

TEST_CASE("opening a store does not touch the storage; the first write creates the directory") {
  TempDir dir;
  const std::string root = dir.file("not/yet");
  auto store = openObjectStore("file://" + root);
  CHECK_FALSE(pathExists(dir.file("not")));
  CHECK(store->list("").empty());
  CHECK(store->listDirectories("").empty());
  CHECK_FALSE(pathExists(dir.file("not")));

  putObject(*store, "k", "v");
  CHECK(readFile(root + "/k") == "v");
}

TEST_CASE("malformed URLs and unknown schemes are refused, naming the URL and the problem") {
  const struct {
    std::string url;
    std::string problem;
  } cases[] = {
      {"", "not a URL"},
      {"/srv/backups", "not a URL"},
      {"://x", "not a URL"},
      {"gs://bucket/prefix", "unknown scheme 'gs'"},
      {"http://host/x", "unknown scheme 'http'"},
      {"file://", "the path is empty"},
      {"file:///", "the path is empty"},
      {"file://localhost", "the path is empty"},
      {"file://localhost/", "the path is empty"},
      {"file://srv/backups", "the path is relative or names a host"},
      {"file://./backups", "the path is relative or names a host"},
      {"file://localhostx/backups", "the path is relative or names a host"},
      {"file:///srv/backups?x=1", "a query is not allowed"},
      {"file:///srv/backups#frag", "a fragment is not allowed"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.url);
    auto failure = storageFailure([&] { openObjectStore(c.url); });
    REQUIRE(failure);
    CHECK(failure->kind() == StorageError::Kind::kPermanent);
    const std::string message = failure->what();
    CHECK(message.find("'" + c.url + "'") != std::string::npos);
    CHECK(message.find(c.problem) != std::string::npos);
  }
}

TEST_CASE("a directory store needs an absolute root") {
  for (const std::string root : {"", "relative/path", "./x"}) {
    CAPTURE(root);
    auto failure = storageFailure([&] { DirectoryStore store(root); });
    REQUIRE(failure);
    CHECK(failure->kind() == StorageError::Kind::kPermanent);
  }
}
