#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "storage/object_key.h"
#include "tests/support/object_store_calls.h"

using namespace walstream;
using namespace walstream::storage;
using namespace walstream::test;

namespace {

const std::string kUrl = "file:///srv/b";

StorageError::Kind kindOf(auto&& call) {
  auto failure = storageFailure(call);
  REQUIRE(failure);
  return failure->kind();
}

}  // namespace

TEST_CASE("a key is '/'-separated parts of printable ASCII, none empty, '.' or '..'") {
  for (const std::string key : {"a", "a/b/c", "a b", ".hidden", "...", "a.tmp-x", "~!@#$%^&*()"}) {
    CAPTURE(key);
    CHECK_NOTHROW(checkKey(kUrl, key));
  }
  const std::vector<std::string> bad = {
      "",
      "/a",
      "a/",
      "a//b",
      ".",
      "..",
      "./a",
      "a/./b",
      "a/..",
      "../outside",
      std::string("a\0b", 3),
      "a\nb",
      "a\x7f",
      "caf\xc3\xa9",
      ".x.tmp-0123456789abcdef",
      "a/.x.tmp-0123456789abcdef/b",
  };
  for (const std::string& key : bad) {
    CAPTURE(key);
    CHECK(kindOf([&] { checkKey(kUrl, key); }) == StorageError::Kind::kPermanent);
  }
}

TEST_CASE("a refused key's message names the store, the key (printably) and the problem") {
  auto failure = storageFailure([] { checkKey(kUrl, "a/../b\n"); });
  REQUIRE(failure);
  CHECK(std::string(failure->what()) == kUrl + ": bad key 'a/../b\\x0a': '.' or '..' part");
  failure = storageFailure([] { checkKey(kUrl, "x//y"); });
  REQUIRE(failure);
  CHECK(std::string(failure->what()) == kUrl + ": bad key 'x//y': empty path part");
}

TEST_CASE("a list prefix may end inside a part; a directory prefix is a key and a '/'") {
  for (const std::string prefix : {"", "a", "a/", "a/b", ".", "a/."}) {
    CAPTURE(prefix);
    CHECK_NOTHROW(checkListPrefix(kUrl, prefix));
  }
  for (const std::string prefix : {"/", "/a", "../", "a//", "./x", "a/../b", "a\n"}) {
    CAPTURE(prefix);
    CHECK(kindOf([&] { checkListPrefix(kUrl, prefix); }) == StorageError::Kind::kPermanent);
  }
  for (const std::string prefix : {"", "a/", "a/b/"}) {
    CAPTURE(prefix);
    CHECK_NOTHROW(checkDirectoryPrefix(kUrl, prefix));
  }
  for (const std::string prefix : {"a", "/", "a//", "../", "./", "a/b"}) {
    CAPTURE(prefix);
    CHECK(kindOf([&] { checkDirectoryPrefix(kUrl, prefix); }) == StorageError::Kind::kPermanent);
  }
  auto failure = storageFailure([] { checkDirectoryPrefix(kUrl, "a"); });
  REQUIRE(failure);
  CHECK(std::string(failure->what()) == kUrl + ": bad prefix 'a': must be empty or end with '/'");
}

TEST_CASE("temporary names are exactly .NAME.tmp- and 16 lowercase hex digits") {
  CHECK(isTemporaryName(".x.tmp-0123456789abcdef"));
  CHECK(isTemporaryName(".a.b.tmp-ffffffffffffffff"));
  CHECK_FALSE(isTemporaryName("x.tmp-0123456789abcdef"));
  CHECK_FALSE(isTemporaryName(".tmp-0123456789abcdef"));
  CHECK_FALSE(isTemporaryName(".x.tmp-0123456789ABCDEF"));
  CHECK_FALSE(isTemporaryName(".x.tmp-0123456789abcde"));
  CHECK_FALSE(isTemporaryName(".x.tmp-0123456789abcdefa"));
  CHECK_FALSE(isTemporaryName(".x.tmp_0123456789abcdef"));
}
