#include <doctest/doctest.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "core/file_util.h"
#include "storage/directory_store.h"
#include "tests/support/object_store_calls.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::storage;
using namespace walstream::test;

namespace {

// Sets a file's modification time `age` into the past.
void age(const std::string& path, std::chrono::seconds by) {
  const auto then = std::chrono::system_clock::now() - by;
  const timespec times[2] = {{0, UTIME_OMIT}, {std::chrono::system_clock::to_time_t(then), 0}};
  REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

// A child process that writes half an object and then waits to be killed with SIGKILL; the
// destructor kills and reaps it, whatever happened. The child also ends (bounded) when this
// process goes away: it waits on a pipe whose write end only this process holds.
class HalfWriter {
 public:
  HalfWriter(const std::string& root, const std::string& key) {
    int ready[2];
    int hold[2];
    REQUIRE(::pipe2(ready, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(hold, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::close(ready[0]);
      ::close(hold[1]);
      try {
        DirectoryStore store(root);
        auto writer = store.create(key);
        writer->write(std::string(4096, 'h'));
        if (::write(ready[1], "r", 1) != 1) ::_exit(1);
        pollfd parentGone{hold[0], POLLIN, 0};
        ::poll(&parentGone, 1, 60000);
      } catch (...) {
      }
      ::_exit(1);
    }
    ::close(ready[1]);
    ::close(hold[0]);
    hold_.reset(hold[1]);
    char byte = 0;
    pollfd p{ready[0], POLLIN, 0};
    const bool written = ::poll(&p, 1, 30000) == 1 && ::read(ready[0], &byte, 1) == 1;
    ::close(ready[0]);
    REQUIRE(written);
  }
  ~HalfWriter() { kill(); }
  HalfWriter(const HalfWriter&) = delete;
  HalfWriter& operator=(const HalfWriter&) = delete;

  // SIGKILL, mid-object; returns the child's wait status.
  int kill() {
    if (pid_ <= 0) return status_;
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, &status_, 0);
    pid_ = -1;
    hold_.reset();
    return status_;
  }

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  UniqueFd hold_;
};

}  // namespace

TEST_CASE("remove deletes objects and the directories they leave empty, never the root") {
  TempDir dir;
  const std::string root = dir.file("root");
  DirectoryStore store(root);
  for (const std::string key : {"a/b/c", "a/b/d", "a/e"}) putObject(store, key, key);

  store.remove({"a/b/c"});
  CHECK(pathExists(root + "/a/b"));
  CHECK(storageFailure([&] { store.stat("a/b/c"); })->kind() == StorageError::Kind::kNotFound);

  store.remove({"a/b/d", "missing/key", "a/b/d"});
  CHECK_FALSE(pathExists(root + "/a/b"));
  CHECK(pathExists(root + "/a"));

  store.remove({"a/e"});
  CHECK_FALSE(pathExists(root + "/a"));
  CHECK(pathExists(root));
  CHECK(store.list("").empty());
  store.remove({});
}

TEST_CASE("remove refuses a batch with a bad key before removing anything") {
  TempDir dir;
  DirectoryStore store(dir.path());
  putObject(store, "a/e", "a/e");
  auto failure = storageFailure([&] { store.remove({"a/e", "../outside"}); });
  REQUIRE(failure);
  CHECK(failure->kind() == StorageError::Kind::kPermanent);
  CHECK(store.stat("a/e").size == 3);
}

TEST_CASE("remove of a directory's name is not an error and leaves the directory's objects") {
  TempDir dir;
  DirectoryStore store(dir.path());
  putObject(store, "a/b", "a/b");
  store.remove({"a", "a/b/c"});
  CHECK(store.stat("a/b").size == 3);
}

TEST_CASE("a writer killed mid-object leaves no object; its temporary file goes once stale") {
  TempDir dir;
  DirectoryStore store(dir.path());
  putObject(store, "g/kept", "g/kept");
  {
    HalfWriter child(dir.path(), "g/wal/killed");
    const int status = child.kill();
    CHECK(WIFSIGNALED(status));
  }
  CHECK(store.list("").size() == 1);
  CHECK(store.list("g/wal/").empty());
  CHECK(store.listDirectories("g/").empty());
  CHECK(storageFailure([&] { store.stat("g/wal/killed"); })->kind() ==
        StorageError::Kind::kNotFound);
  const std::vector<std::string> files = dir.files();
  REQUIRE(files.size() == 2);
  const std::string temporary = files[1];
  CHECK(temporary.find("g/wal/.killed.tmp-") == 0);

  // Too young to be a stray: a live writer's file looks the same.
  CHECK(store.removeStrayTemporaries(std::chrono::hours(1)) == 0);
  CHECK(dir.files().size() == 2);

  age(dir.file(temporary), std::chrono::hours(2));
  age(dir.file("g/kept"), std::chrono::hours(2));  // old objects are not strays
  CHECK(store.removeStrayTemporaries(std::chrono::hours(1)) == 1);
  CHECK(dir.files() == std::vector<std::string>{"g/kept"});
  CHECK(store.read("g/kept", 0, 100) == "g/kept");
  CHECK(store.removeStrayTemporaries(std::chrono::hours(1)) == 0);
}

TEST_CASE("removeStrayTemporaries leaves a running writer alone and finds nothing on no root") {
  TempDir dir;
  DirectoryStore store(dir.path());
  auto writer = store.create("x/y");
  writer->write(std::string_view("live"));
  CHECK(store.removeStrayTemporaries(std::chrono::seconds(60)) == 0);
  writer->commit();
  CHECK(store.read("x/y", 0, 10) == "live");

  DirectoryStore absent(dir.file("absent"));
  CHECK(absent.removeStrayTemporaries(std::chrono::seconds(0)) == 0);
}

TEST_CASE("writers and removers sharing new directories never get in each other's way") {
  TempDir dir;
  DirectoryStore store(dir.path());
  constexpr int kRounds = 200;
  std::atomic<int> failures{0};
  auto churn = [&](int id) {
    for (int i = 0; i < kRounds; ++i) {
      const std::string key = "shared/deeper/" + std::to_string(id) + "-" + std::to_string(i);
      try {
        putObject(store, key, key);
        store.remove({key});
      } catch (const StorageError&) {
        ++failures;
      }
    }
  };
  std::thread a(churn, 1);
  std::thread b(churn, 2);
  a.join();
  b.join();
  CHECK(failures.load() == 0);
  CHECK(store.list("").empty());
}
