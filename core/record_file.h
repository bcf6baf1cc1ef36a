// A small file holding exactly one record, rewritten in place by a single pwrite at offset 0.
//
// Replacing a file by tmp + rename costs an inode allocation and a directory update per write;
// for files rewritten after every transaction (positions) that dominated the hot path. Here the
// descriptor stays open and a write is one pwrite (plus fdatasync when durable), which for an
// overwrite of an allocated block needs no journal commit.
//
// Invariant: every record written to one file has the same length, so the file never holds a
// mix of an old and a new record's lengths, and a concurrent reader sees one whole record in
// practice (one pwrite into one page). A crash can still tear a record across sectors; records
// that matter carry their own checksum (see client/replica_position.h) so a torn one is detected
// rather than believed.
#pragma once

#include <string>
#include <string_view>

#include "core/file_system.h"
#include "core/file_util.h"

namespace walstream {

class RecordFile {
 public:
  RecordFile() = default;
  // Every operation on the file goes through `fs` (file_system.h), which must outlive this.
  explicit RecordFile(std::string path, FileSystem& fs = realFileSystem())
      : path_(std::move(path)), fs_(&fs) {}

  // Replaces the file's content by `record`. Opens (creating) the file on first use; a file of
  // another length (an older format) is cut to the record's length after the write. With
  // `durable`, returns only once the record is on stable storage, as sync() does.
  void write(std::string_view record, bool durable);

  // Flushes the last write to stable storage (nothing when nothing was written): fdatasync, and
  // the first time after the file was opened an fsync of its directory, so that a file created
  // since (by this object or by a run that died before flushing it) is found after a power
  // failure too. After a sync that failed, the next one replaces the file by a new one (tmp,
  // fsync, rename, directory fsync) holding the last record, since syncing the old one again
  // could succeed without writing what the failed sync dropped.
  void sync();

  // Deletes the file (missing is fine); the next write creates it again.
  void remove();

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  FileSystem* fs_ = &realFileSystem();
  UniqueFd fd_;
  uint64_t length_ = 0;       // the file's length as last written or seen
  bool nameDurable_ = false;  // its directory was fsynced since fd_ was opened
  bool syncFailed_ = false;   // the last sync failed: the next one rewrites the file
  std::string last_;          // the last record written
};

}  // namespace walstream
