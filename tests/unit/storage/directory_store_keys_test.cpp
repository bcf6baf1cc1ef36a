#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "storage/directory_store.h"
#include "tests/support/object_store_calls.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::storage;
using namespace walstream::test;

namespace {

// A sample of each rule (object_key_test.cpp has them all), and keys escaping the root.
const std::vector<std::string> kBadKeys = {
    "", "/a", "a//b", "..", "../outside", "a/../../outside", "a\nb", ".x.tmp-0123456789abcdef",
};

void checkRefused(const std::string& key, auto&& call) {
  CAPTURE(key);
  auto failure = storageFailure(call);
  REQUIRE(failure);
  CHECK(failure->kind() == StorageError::Kind::kPermanent);
  CHECK(std::string(failure->what()).find("bad key") != std::string::npos);
}

}  // namespace

TEST_CASE("every call refuses a malformed key and touches nothing") {
  TempDir dir;
  DirectoryStore store(dir.file("root"));
  for (const std::string& key : kBadKeys) {
    checkRefused(key, [&] { store.create(key); });
    checkRefused(key, [&] { store.stat(key); });
    checkRefused(key, [&] { store.read(key, 0, 10); });
    checkRefused(key, [&] { store.remove({key}); });
  }
  CHECK(dir.files().empty());
}

TEST_CASE("keys that look odd but are well formed are accepted") {
  TempDir dir;
  DirectoryStore store(dir.path());
  const std::vector<std::string> keys = {
      "a b", ".hidden", "...", "a.tmp-x", "x/.y.tmp-0123", "~!@#$%^&*()_+={}[]|\\:;\"'<>,?"};
  for (const std::string& key : keys) {
    CAPTURE(key);
    putObject(store, key, key);
    CHECK(store.read(key, 0, 100) == key);
  }
  CHECK(store.list("").size() == keys.size());
}

TEST_CASE("listing prefixes follow the key rules for their complete parts") {
  TempDir dir;
  DirectoryStore store(dir.path());
  for (const std::string prefix : {"/", "../", "a//", "./x", "a/../b"}) {
    CAPTURE(prefix);
    CHECK(storageFailure([&] { store.list(prefix); })->kind() == StorageError::Kind::kPermanent);
    CHECK(storageFailure([&] { store.listDirectories(prefix); })->kind() ==
          StorageError::Kind::kPermanent);
  }
  // A list() prefix may end inside a part; a listDirectories() prefix must end with '/'.
  CHECK(store.list("a/b").empty());
  CHECK(store.list(".").empty());
  CHECK(storageFailure([&] { store.listDirectories("a"); })->kind() ==
        StorageError::Kind::kPermanent);
}
