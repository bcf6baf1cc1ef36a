#include <doctest/doctest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "core/error.h"
#include "core/file_util.h"
#include "tests/support/contains.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;

namespace {

std::string errorOf(auto&& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

ino_t inodeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_ino;
}

}  // namespace

TEST_CASE("writeFileAtomic replaces the content by rename and leaves no .tmp") {
  TempDir dir;
  const std::string path = dir.file("position");
  writeFileAtomic(path, "first version\n");
  CHECK(readFile(path) == "first version\n");
  CHECK_FALSE(pathExists(path + ".tmp"));

  // A reader holding the old file keeps seeing the old content in full: the new content went to
  // another inode that replaced the name in one step, never into the old file.
  UniqueFd old = openFile(path, O_RDONLY);
  const ino_t oldInode = inodeOf(path);
  writeFileAtomic(path, "v2");
  CHECK(readFile(path) == "v2");
  CHECK(inodeOf(path) != oldInode);
  char buf[64] = {};
  CHECK(preadFull(old.get(), buf, sizeof buf, 0, path) == 14);
  CHECK(std::string(buf, 14) == "first version\n");
  CHECK_FALSE(pathExists(path + ".tmp"));

  writeFileAtomic(path, "");
  CHECK(readFile(path) == "");
  const std::string big(3 << 20, 'z');
  writeFileAtomic(path, big);
  CHECK(readFile(path) == big);
  CHECK(listDir(dir.path()) == std::vector<std::string>{"position"});  // and no position.tmp

  // A stale .tmp from a crash is simply overwritten.
  writeFileAtomic(path + ".tmp", "stale");
  writeFileAtomic(path, "v4");
  CHECK(readFile(path) == "v4");
  CHECK_FALSE(pathExists(path + ".tmp"));

  // A failed replacement leaves the old content and no .tmp behind.
  const std::string aDir = dir.file("a-directory");
  makeDirs(aDir + "/child");
  std::string renameErr = errorOf([&] { writeFileAtomic(aDir, "x"); });
  CHECK(renameErr == "cannot rename " + aDir + ".tmp to " + aDir + ": Is a directory");
  CHECK_FALSE(pathExists(aDir + ".tmp"));
  CHECK(pathExists(aDir + "/child"));

  const std::string missingDir = dir.file("no/such/dir/file");
  std::string err = errorOf([&] { writeFileAtomic(missingDir, "x"); });
  CHECK(contains(err, missingDir + ".tmp"));
  CHECK(contains(err, "No such file or directory"));
}

TEST_CASE("preadFull returns fewer bytes only at end of file") {
  TempDir dir;
  const std::string path = dir.file("data");
  std::string content;
  for (int i = 0; i < 100; ++i) content += static_cast<char>('a' + i % 26);
  writeFileAtomic(path, content);
  UniqueFd fd = openFile(path, O_RDONLY);
  CHECK(fileSize(fd.get(), path) == 100);
  char buf[200];
  CHECK(preadFull(fd.get(), buf, 50, 10, path) == 50);
  CHECK(std::string(buf, 50) == content.substr(10, 50));
  CHECK(preadFull(fd.get(), buf, 50, 80, path) == 20);
  CHECK(std::string(buf, 20) == content.substr(80));
  CHECK(preadFull(fd.get(), buf, 50, 100, path) == 0);
  CHECK(preadFull(fd.get(), buf, 50, 1000, path) == 0);
  CHECK(preadFull(fd.get(), buf, 0, 0, path) == 0);

  UniqueFd w = openFile(path, O_RDWR);
  pwriteFull(w.get(), "XYZ", 3, 98, path);  // extends the file by one byte
  CHECK(preadFull(fd.get(), buf, 200, 0, path) == 101);
  CHECK(std::string(buf + 97, 4) == content.substr(97, 1) + "XYZ");
}

TEST_CASE("pwritevFull writes its buffers back to back, empty ones included") {
  TempDir dir;
  const std::string path = dir.file("data");
  writeFileAtomic(path, std::string(10, '.'));
  UniqueFd fd = openFile(path, O_RDWR);
  std::string a = "abc", b, c(5000, 'c'), d = "d";
  const std::vector<iovec> buffers = {
      {a.data(), a.size()}, {b.data(), 0}, {c.data(), c.size()}, {d.data(), d.size()}};
  pwritevFull(fd.get(), buffers, 4, path);
  std::string back(5008, '\0');
  CHECK(preadFull(fd.get(), back.data(), back.size(), 0, path) == 5008);
  CHECK(back == "...." + a + c + d);
  CHECK(errorOf([&] { pwritevFull(-1, buffers, 0, path); }).find(path) != std::string::npos);
}

TEST_CASE("file errors name the path and the cause") {
  TempDir dir;
  const std::string missing = dir.file("missing");
  std::string err = errorOf([&] { openFile(missing, O_RDONLY); });
  CHECK(err == "cannot open " + missing + ": No such file or directory");
  err = errorOf([&] { readFile(missing); });
  CHECK(err == "cannot open " + missing + ": No such file or directory");
  CHECK_FALSE(openFileIfExists(missing, O_RDONLY).valid());
  CHECK_FALSE(pathExists(missing));

  const std::string file = dir.file("file");
  writeFileAtomic(file, "0123456789");
  CHECK(openFileIfExists(file, O_RDONLY).valid());
  err = errorOf([&] { openFileIfExists(file + "/child", O_RDONLY); });
  CHECK(err == "cannot open " + file + "/child: Not a directory");

  UniqueFd writeOnly = openFile(file, O_WRONLY);
  char buf[4];
  err = errorOf([&] { preadFull(writeOnly.get(), buf, 4, 6, file); });
  CHECK(err == "read failed at offset 6 of " + file + ": Bad file descriptor");
  UniqueFd readOnly = openFile(file, O_RDONLY);
  err = errorOf([&] { pwriteFull(readOnly.get(), "ab", 2, 3, file); });
  CHECK(err == "write failed at offset 3 of " + file + ": Bad file descriptor");
  err = errorOf([&] { writeFull(readOnly.get(), "ab", 2, file); });
  CHECK(err == "write failed " + file + ": Bad file descriptor");

  err = errorOf([&] { listDir(file); });
  CHECK(err == "cannot list directory " + file + ": Not a directory");
  CHECK(listDir(missing).empty());
  err = errorOf([&] { fsyncDir(missing); });
  CHECK(contains(err, missing));
  err = errorOf([&] { makeDirs(file + "/sub/dir"); });
  CHECK(contains(err, "cannot create directory " + file + "/sub/dir"));
}

TEST_CASE("directories: makeDirs, listDir, removeAll") {
  TempDir dir;
  const std::string deep = dir.file("a/b/c");
  makeDirs(deep);
  makeDirs(deep);  // existing is fine
  writeFileAtomic(deep + "/f1", "1");
  writeFileAtomic(deep + "/f2", "2");
  fsyncDir(deep);
  std::vector<std::string> names = listDir(deep);
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"f1", "f2"});
  removeAll(dir.file("a"));
  CHECK_FALSE(pathExists(dir.file("a")));
  removeAll(dir.file("a"));  // missing is fine
}

TEST_CASE("UniqueFd closes exactly once and transfers ownership on move") {
  TempDir dir;
  writeFileAtomic(dir.file("f"), "x");
  int raw = -1;
  {
    UniqueFd a = openFile(dir.file("f"), O_RDONLY);
    raw = a.get();
    CHECK(a.valid());
    CHECK((::fcntl(raw, F_GETFD) & FD_CLOEXEC) != 0);
    UniqueFd b(std::move(a));
    CHECK_FALSE(a.valid());  // NOLINT(bugprone-use-after-move): moved-from state is specified
    CHECK(b.get() == raw);
    UniqueFd c = openFile(dir.file("f"), O_RDONLY);
    const int other = c.get();
    c = std::move(b);  // closes c's old descriptor
    CHECK(c.get() == raw);
    CHECK(::fcntl(other, F_GETFD) == -1);
    int released = c.release();
    CHECK(released == raw);
    CHECK_FALSE(c.valid());
    c.reset(released);
  }
  CHECK(::fcntl(raw, F_GETFD) == -1);
}

TEST_CASE("dirName and baseName") {
  CHECK(dirName("/var/lib/app.db") == "/var/lib");
  CHECK(baseName("/var/lib/app.db") == "app.db");
  CHECK(dirName("app.db") == ".");
  CHECK(baseName("app.db") == "app.db");
  CHECK(dirName("/app.db") == "/");
  CHECK(dirName("data/app.db") == "data");
}
