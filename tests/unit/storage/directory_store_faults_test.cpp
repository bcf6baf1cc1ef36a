#include <doctest/doctest.h>

#include <cerrno>
#include <string>
#include <vector>

#include "storage/directory_store.h"
#include "tests/support/faulty_file_system.h"
#include "tests/support/object_store_calls.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::storage;
using namespace walstream::test;

namespace {

using Kind = StorageError::Kind;

const std::string kKey = "gen/wal/object";
const std::string kContent(10000, 'w');

// create, write in two pieces, commit: the StorageError the first failing step threw, if any.
std::optional<StorageError> writeObject(ObjectStore& store) {
  return storageFailure([&] {
    auto writer = store.create(kKey);
    writer->write(std::string_view(kContent).substr(0, 4000));
    writer->write(std::string_view(kContent).substr(4000));
    writer->commit();
  });
}

struct FaultCase {
  std::string name;
  Fault fault;  // a pathContains starting with '/' is below the root
  Kind kind;
};

Fault fault(FsOp op, std::string pathContains, int error, uint64_t nth = 1) {
  Fault f;
  f.op = op;
  f.pathContains = std::move(pathContains);
  f.error = error;
  f.nth = nth;
  return f;
}

std::vector<FaultCase> faultCases() {
  Fault shortWrite = fault(FsOp::kWrite, ".tmp-", ENOSPC, 2);
  shortWrite.shortWriteBytes = 100;
  return {
      // create(): the key's directories, each made durable in its parent, and the temporary.
      {"mkdir fails", fault(FsOp::kMakeDirs, "/gen/wal", EIO), Kind::kTransient},
      {"mkdir on a full disk", fault(FsOp::kMakeDirs, "/gen", ENOSPC), Kind::kPermanent},
      {"fsync of a new directory's parent", fault(FsOp::kSyncDir, "", EIO, 2), Kind::kTransient},
      {"temporary file not permitted", fault(FsOp::kOpen, ".tmp-", EACCES), Kind::kPermanent},
      {"read-only file system", fault(FsOp::kOpen, ".tmp-", EROFS), Kind::kPermanent},
      // write()
      {"write fails", fault(FsOp::kWrite, ".tmp-", EIO), Kind::kTransient},
      {"disk full in the middle of a write", shortWrite, Kind::kPermanent},
      {"quota exceeded", fault(FsOp::kWrite, ".tmp-", EDQUOT), Kind::kPermanent},
      // commit()
      {"fsync of the object fails", fault(FsOp::kSync, ".tmp-", EIO), Kind::kTransient},
      {"rename fails", fault(FsOp::kRename, ".tmp-", EIO), Kind::kTransient},
      {"rename not permitted", fault(FsOp::kRename, ".tmp-", EPERM), Kind::kPermanent},
      {"fsync of the object's directory fails", fault(FsOp::kSyncDir, "/gen/wal", EIO),
       Kind::kTransient},
  };
}

}  // namespace

TEST_CASE("a failure at any writing step is a StorageError of its kind and leaves nothing") {
  for (FaultCase c : faultCases()) {
    CAPTURE(c.name);
    TempDir dir;
    FaultyFileSystem fs;
    DirectoryStore store(dir.file("root"), fs);
    if (c.fault.pathContains.starts_with('/')) c.fault.pathContains.insert(0, "root");
    fs.addFault(c.fault);

    auto failure = writeObject(store);
    REQUIRE(failure);
    CHECK(fs.injected() == 1);
    CHECK(failure->kind() == c.kind);
    const std::string message = failure->what();
    CHECK(message.find(store.url() + ": cannot ") == 0);
    CHECK(message.find(" " + kKey + ": ") != std::string::npos);
    // No object, and no temporary file either.
    CHECK(store.list("").empty());
    CHECK(storageFailure([&] { store.stat(kKey); })->kind() == Kind::kNotFound);
    CHECK(dir.files().empty());

    // The store is usable again once the failure is gone.
    fs.clearFaults();
    CHECK_FALSE(writeObject(store));
    CHECK(store.read(kKey, 0, kContent.size()) == kContent);
  }
}

TEST_CASE("a committed object and every directory made for it are durable") {
  TempDir dir;
  FaultyFileSystem fs;
  DirectoryStore store(dir.file("new/root"), fs);
  REQUIRE_FALSE(writeObject(store));
  CHECK(fs.notDurable("", dir.path()).empty());
  // Each new directory was synced in its parent: new, root, gen and wal, then the object's.
  CHECK(fs.calls(FsOp::kMakeDirs) == 4);
  CHECK(fs.calls(FsOp::kSyncDir) == 5);

  // A second object in the same directories makes none and syncs only its own directory.
  auto writer = store.create("gen/wal/second");
  writer->commit();
  CHECK(fs.calls(FsOp::kMakeDirs) == 4);
  CHECK(fs.calls(FsOp::kSyncDir) == 6);
  CHECK(fs.notDurable("", dir.path()).empty());
}

TEST_CASE("a failed directory fsync withdraws the object it would have made durable") {
  TempDir dir;
  FaultyFileSystem fs;
  DirectoryStore store(dir.path(), fs);
  auto first = store.create("k");
  first->commit();
  fs.addFault(fault(FsOp::kSyncDir, "", EIO));
  auto second = store.create("other");
  second->write(std::string_view("x"));
  CHECK(storageFailure([&] { second->commit(); })->kind() == Kind::kTransient);
  CHECK(dir.files() == std::vector<std::string>{"k"});
}

TEST_CASE("an abandoned writer whose temporary cannot be removed does not throw") {
  TempDir dir;
  FaultyFileSystem fs;
  DirectoryStore store(dir.path(), fs);
  fs.addFault(fault(FsOp::kUnlink, ".tmp-", EIO));
  {
    auto writer = store.create("k");
    writer->write(std::string_view("x"));
  }
  CHECK(fs.injected() == 1);
  CHECK(store.list("").empty());
  CHECK(dir.files().size() == 1);  // left for removeStrayTemporaries()
}

TEST_CASE("a failure removing an object is a StorageError naming the key") {
  TempDir dir;
  FaultyFileSystem fs;
  DirectoryStore store(dir.path(), fs);
  store.create("a/k")->commit();
  fs.addFault(fault(FsOp::kUnlink, "a/k", EIO));
  auto failure = storageFailure([&] { store.remove({"a/k"}); });
  REQUIRE(failure);
  CHECK(failure->kind() == Kind::kTransient);
  CHECK(std::string(failure->what()).find("cannot remove a/k: ") != std::string::npos);
  fs.clearFaults();
  store.remove({"a/k"});
  CHECK(dir.files().empty());
}
