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
// fail (a full disk, a failed fsync) at a chosen step.
#pragma once

#include <chrono>
#include <string>

#include "core/file_system.h"
#include "storage/object_store.h"

namespace walstream::storage {

class DirectoryStore : public ObjectStore {
 public:
  // `root` is an absolute path; it need not exist yet.
  explicit DirectoryStore(std::string root, FileSystem& fs = realFileSystem());

  std::string url() const override;  // file://ROOT
  std::vector<std::string> listDirectories(const std::string& prefix) override;
  std::vector<ObjectInfo> list(const std::string& prefix) override;
  ObjectInfo stat(const std::string& key) override;
  std::string read(const std::string& key, uint64_t offset, uint64_t maxBytes) override;
  std::unique_ptr<ObjectWriter> create(const std::string& key) override;
  void remove(const std::vector<std::string>& keys) override;

  // Deletes temporary files older than `age` that a killed writer left under the root; returns
  // how many. A writer of this process that is still running is younger than any sensible age.
  size_t removeStrayTemporaries(std::chrono::seconds age);

  const std::string& root() const { return root_; }

 private:
  std::string root_;
  FileSystem& fs_;
};

}  // namespace walstream::storage
