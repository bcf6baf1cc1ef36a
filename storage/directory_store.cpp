#include "storage/directory_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <random>

#include "core/error.h"
#include "core/file_util.h"
#include "storage/directory_object_writer.h"
#include "storage/file_errors.h"
#include "storage/object_key.h"

namespace walstream::storage {

namespace {

using Kind = StorageError::Kind;

std::chrono::system_clock::time_point modifiedTime(const struct stat& st) {
  using std::chrono::duration_cast;
  return std::chrono::system_clock::time_point(duration_cast<std::chrono::system_clock::duration>(
      std::chrono::seconds(st.st_mtim.tv_sec) + std::chrono::nanoseconds(st.st_mtim.tv_nsec)));
}

ObjectInfo infoOf(std::string key, const struct stat& st) {
  return {std::move(key), static_cast<uint64_t>(st.st_size), modifiedTime(st)};
}

// 16 lowercase hex digits, unpredictable enough that writers of one key (in this process or in
// another) never pick the same temporary name.
std::string randomSuffix() {
  std::random_device device;
  const uint64_t bits = (uint64_t{device()} << 32) | device();
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(bits));
  return text;
}

// Throws StorageError(kNotFound) unless `st` is a regular file's: a directory, a symbolic link
// or a FIFO is no object.
void requireRegularFile(const struct stat& st, const std::string& url, std::string_view verb,
                        const std::string& key, const std::string& path) {
  if (S_ISREG(st.st_mode)) return;
  throw StorageError(Kind::kNotFound, url + ": cannot " + std::string(verb) + " " + key +
                                          ": not a regular file: " + path);
}

// The names in `dir`; none when it does not exist or is not a directory.
std::vector<std::string> entriesOf(const std::string& dir) {
  try {
    return listDir(dir);
  } catch (const SystemError& e) {
    if (e.code() == ENOTDIR) return {};
    throw;
  }
}

// Calls visit(name, path, st) for each entry of `dir` whose name starts with `namePrefix`, from
// lstat(2) (so a symbolic link is not followed), until visit returns false. An entry that
// vanishes meanwhile (a concurrent remove()) is skipped. False when visit stopped it.
template <class Visit>
bool forEachEntry(const std::string& dir, std::string_view namePrefix, Visit&& visit) {
  for (const std::string& name : entriesOf(dir)) {
    if (name.compare(0, namePrefix.size(), namePrefix) != 0) continue;
    const std::string path = dir + "/" + name;
    struct stat st {};
    if (::lstat(path.c_str(), &st) != 0) {
      if (errno == ENOENT) continue;
      throwErrno("cannot stat", path);
    }
    if (!visit(name, path, st)) return false;
  }
  return true;
}

// Calls visit(key, path, st) for each regular file at any depth under `dir` (which holds the
// keys starting with `keyPrefix`, empty or ending in '/') whose name is a key part or a
// temporary name, descending only into directories named by key parts; at the top level, only
// names starting with `namePrefix`. False when visit stopped it.
template <class Visit>
bool walkFiles(const std::string& dir, const std::string& keyPrefix, std::string_view namePrefix,
               Visit& visit) {
  return forEachEntry(dir, namePrefix,
                      [&](const std::string& name, const std::string& path, const struct stat& st) {
                        if (S_ISDIR(st.st_mode) && isKeyPart(name)) {
                          return walkFiles(path, keyPrefix + name + "/", {}, visit);
                        }
                        if (S_ISREG(st.st_mode) && (isKeyPart(name) || isTemporaryName(name))) {
                          return visit(keyPrefix + name, path, st);
                        }
                        return true;
                      });
}

// Whether any object (a file that is not a temporary) lies at any depth under `dir`.
bool holdsObject(const std::string& dir) {
  auto untilObject = [](const std::string& key, const std::string&, const struct stat&) {
    return isTemporaryName(baseName(key));
  };
  return !walkFiles(dir, {}, {}, untilObject);
}

}  // namespace

DirectoryStore::DirectoryStore(std::string root, FileSystem& fs) : root_(std::move(root)), fs_(fs) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
  if (root_.empty() || root_.front() != '/') {
    throw StorageError(Kind::kPermanent,
                       "directory store: the root '" + root_ + "' is not an absolute path");
  }
}

std::string DirectoryStore::url() const {
  return "file://" + root_;
}

std::string DirectoryStore::pathOf(const std::string& key) const {
  return (root_ == "/" ? std::string() : root_) + "/" + key;
}

std::string DirectoryStore::directoryOf(const std::string& prefix) const {
  return prefix.empty() ? root_ : pathOf(prefix.substr(0, prefix.size() - 1));
}

std::vector<std::string> DirectoryStore::listDirectories(const std::string& prefix) {
  checkDirectoryPrefix(url(), prefix);
  std::vector<std::string> names;
  try {
    forEachEntry(directoryOf(prefix), {},
                 [&](const std::string& name, const std::string& path, const struct stat& st) {
                   if (S_ISDIR(st.st_mode) && isKeyPart(name) && holdsObject(path)) {
                     names.push_back(name);
                   }
                   return true;
                 });
  } catch (const Error& e) {
    throw fileFailure(url(), "list", prefix, e, OnMissing::kFailure);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<ObjectInfo> DirectoryStore::list(const std::string& prefix) {
  checkListPrefix(url(), prefix);
  const size_t lastSlash = prefix.rfind('/');
  const size_t nameStart = lastSlash == std::string::npos ? 0 : lastSlash + 1;
  const std::string directoryPrefix = prefix.substr(0, nameStart);
  std::vector<ObjectInfo> objects;
  auto collect = [&](const std::string& key, const std::string&, const struct stat& st) {
    if (!isTemporaryName(baseName(key))) objects.push_back(infoOf(key, st));
    return true;
  };
  try {
    walkFiles(directoryOf(directoryPrefix), directoryPrefix,
              std::string_view(prefix).substr(nameStart), collect);
  } catch (const Error& e) {
    throw fileFailure(url(), "list", prefix, e, OnMissing::kFailure);
  }
  std::sort(objects.begin(), objects.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return objects;
}

ObjectInfo DirectoryStore::stat(const std::string& key) {
  checkKey(url(), key);
  const std::string path = pathOf(key);
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    throw fileFailure(url(), "stat", key, "cannot stat", path, errno, OnMissing::kNotFound);
  }
  requireRegularFile(st, url(), "stat", key, path);
  return infoOf(key, st);
}

// The object's file, opened for reading, and its size.
DirectoryStore::OpenObject DirectoryStore::openForRead(const std::string& key) const {
  checkKey(url(), key);
  OpenObject object{pathOf(key), {}, 0};
  // Neither a symbolic link nor a FIFO is an object (listings skip them); opening a FIFO must
  // not block.
  object.fd = UniqueFd(::open(object.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!object.fd.valid()) {
    const int err = errno == ELOOP ? ENOENT : errno;
    throw fileFailure(url(), "read", key, "cannot open", object.path, err, OnMissing::kNotFound);
  }
  struct stat st {};
  if (::fstat(object.fd.get(), &st) != 0) {
    throw fileFailure(url(), "read", key, "cannot stat", object.path, errno, OnMissing::kNotFound);
  }
  requireRegularFile(st, url(), "read", key, object.path);
  object.size = static_cast<uint64_t>(st.st_size);
  return object;
}

std::string DirectoryStore::read(const std::string& key, uint64_t offset, uint64_t maxBytes) {
  const OpenObject object = openForRead(key);
  if (offset >= object.size) return {};
  // Bounded by the file's size, not by what the caller asked for.
  std::string bytes(std::min(maxBytes, object.size - offset), '\0');
  bytes.resize(preadObject(object, key, offset, bytes));
  return bytes;
}

uint64_t DirectoryStore::readInto(const std::string& key, uint64_t offset, std::span<char> out) {
  const OpenObject object = openForRead(key);
  if (offset >= object.size) return 0;
  return preadObject(object, key, offset,
                     out.first(std::min<uint64_t>(out.size(), object.size - offset)));
}

size_t DirectoryStore::preadObject(const OpenObject& object, const std::string& key,
                                   uint64_t offset, std::span<char> out) const {
  try {
    return preadFull(object.fd.get(), out.data(), out.size(), offset, object.path);
  } catch (const Error& e) {
    throw fileFailure(url(), "read", key, e, OnMissing::kNotFound);
  }
}

std::unique_ptr<ObjectWriter> DirectoryStore::create(const std::string& key) {
  checkKey(url(), key);
  const std::string path = pathOf(key);
  const std::string dir = dirName(path);
  std::string temporary = dir + "/." + baseName(path) + ".tmp-" + randomSuffix();
  try {
    std::lock_guard lock(directoriesMu_);
    makeDurableDirectories(dir);
    UniqueFd fd = fs_.openFile(temporary, O_WRONLY | O_CREAT | O_EXCL, 0644);
    return std::make_unique<DirectoryObjectWriter>(fs_, url(), key, path, std::move(temporary),
                                                   std::move(fd));
  } catch (const Error& e) {
    throw fileFailure(url(), "create", key, e, OnMissing::kFailure);
  }
}

void DirectoryStore::makeDurableDirectories(const std::string& dir) {
  std::vector<std::string> missing;  // deepest first
  struct stat st {};
  for (std::string d = dir; d != "/" && ::stat(d.c_str(), &st) != 0; d = dirName(d)) {
    missing.push_back(d);
  }
  for (auto it = missing.rbegin(); it != missing.rend(); ++it) {
    fs_.makeDirs(*it);  // one level: its parent exists
    fs_.fsyncDir(dirName(*it));
  }
}

void DirectoryStore::remove(const std::vector<std::string>& keys) {
  for (const std::string& key : keys) checkKey(url(), key);
  for (const std::string& key : keys) {
    try {
      fs_.unlink(pathOf(key));  // false when it was not there: fine
    } catch (const Error& e) {
      // A directory where the key's name or a part of its path should be: no such object.
      const auto* system = dynamic_cast<const SystemError*>(&e);
      if (system && (system->code() == EISDIR || system->code() == ENOTDIR)) continue;
      throw fileFailure(url(), "remove", key, e, OnMissing::kFailure);
    }
  }
  std::lock_guard lock(directoriesMu_);
  for (const std::string& key : keys) removeEmptyDirectories(dirName(pathOf(key)), key);
}

void DirectoryStore::removeEmptyDirectories(std::string dir, const std::string& key) {
  for (; dir.size() > root_.size(); dir = dirName(dir)) {
    if (::rmdir(dir.c_str()) == 0) continue;
    const int err = errno;
    if (err == ENOTEMPTY || err == EEXIST || err == ENOENT || err == ENOTDIR) return;
    throw fileFailure(url(), "remove", key, "cannot remove directory", dir, err,
                      OnMissing::kFailure);
  }
}

size_t DirectoryStore::removeStrayTemporaries(std::chrono::seconds age) {
  const auto cutoff = std::chrono::system_clock::now() - age;
  size_t removed = 0;
  auto removeStray = [&](const std::string& key, const std::string& path, const struct stat& st) {
    if (!isTemporaryName(baseName(key)) || modifiedTime(st) >= cutoff) return true;
    try {
      if (fs_.unlink(path)) ++removed;
    } catch (const Error& e) {
      throw fileFailure(url(), "remove", key, e, OnMissing::kFailure);
    }
    return true;
  };
  try {
    walkFiles(root_, {}, {}, removeStray);
  } catch (const StorageError&) {
    throw;
  } catch (const Error& e) {
    throw fileFailure(url(), "list", {}, e, OnMissing::kFailure);
  }
  return removed;
}

}  // namespace walstream::storage
