// A store in a directory of the local file system or a mount (`file:///srv/backups/app`):
// each object is the file ROOT/KEY.
//
// Writes go to a temporary file beside the final name (`.<name>.tmp-<16 hex>`, which no listing
// returns), are fsynced, renamed into place, and the directory is fsynced; a directory created
// for a key is made durable in its parent. So an object is whole once listed, and durable once
// commit() returned; a crash leaves at most temporary files, which listings skip and which
// removeStrayTemporaries() deletes.
//
// File-system calls that write go through core/file_system.h, so tests can make any of them
// fail (a full disk, a failed fsync) at a chosen step. A writer that fails at any step removes
// its temporary file; one whose directory fsync fails after the rename withdraws the object
// again (it might not survive a power loss), so a failed commit() leaves no object either.
//
// Errors, by errno: a missing file is kNotFound for stat() and read(); a full disk or quota,
// permissions, a read-only file system, a name too long, or a key that runs into an existing
// file or directory (ENOTDIR, EISDIR, EEXIST) is kPermanent; anything else (EIO, EINTR...) is
// kTransient. Listings skip temporary names and anything that is neither a regular file nor a
// directory (symbolic links included); stat() and read() of such a thing are kNotFound.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "core/file_system.h"
#include "core/file_util.h"
#include "storage/object_store.h"

namespace walstream::storage {

class DirectoryStore : public ObjectStore {
 public:
  // `root` is an absolute path (a trailing '/' is ignored); it need not exist yet. Throws
  // StorageError(kPermanent) when it is not absolute.
  explicit DirectoryStore(std::string root, FileSystem& fs = realFileSystem());

  std::string url() const override;  // file://ROOT
  std::vector<std::string> listDirectories(const std::string& prefix) override;
  std::vector<ObjectInfo> list(const std::string& prefix) override;
  ObjectInfo stat(const std::string& key) override;
  std::string read(const std::string& key, uint64_t offset, uint64_t maxBytes) override;
  uint64_t readInto(const std::string& key, uint64_t offset, std::span<char> out) override;
  std::unique_ptr<ObjectWriter> create(const std::string& key) override;
  void remove(const std::vector<std::string>& keys) override;

  // Deletes temporary files last modified more than `age` ago that a killed writer left under
  // the root; returns how many. A writer of this process that is still running is younger than
  // any sensible age (each write updates its file's time).
  size_t removeStrayTemporaries(std::chrono::seconds age);

  const std::string& root() const { return root_; }

 private:
  std::string pathOf(const std::string& key) const;          // ROOT/KEY
  std::string directoryOf(const std::string& prefix) const;  // ROOT/PREFIX without its last '/'
  // Creates the missing directories down to `dir`, one level at a time, each made durable in its
  // parent. Requires directoriesMu_.
  void makeDurableDirectories(const std::string& dir);
  // Removes `dir` and its parents below the root for as long as they are empty. Requires
  // directoriesMu_.
  void removeEmptyDirectories(std::string dir, const std::string& key);

  struct OpenObject {
    std::string path;
    UniqueFd fd;
    uint64_t size = 0;
  };
  // Throws StorageError (kNotFound for a missing key or a file that is no object).
  OpenObject openForRead(const std::string& key) const;
  size_t preadObject(const OpenObject& object, const std::string& key, uint64_t offset,
                     std::span<char> out) const;

  std::string root_;  // absolute, without a trailing '/' unless it is "/"
  FileSystem& fs_;
  // Held while create() makes a key's directories and the temporary file inside, and while
  // remove() removes emptied directories: so remove() never takes away a directory a new writer
  // is about to use, and a writer never builds on a directory that another thread created but
  // has not made durable yet.
  std::mutex directoriesMu_;
};

}  // namespace walstream::storage
