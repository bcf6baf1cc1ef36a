// A file as stat(2) saw it: inode, size, modification and change times. It changes whenever
// something writes the file (docs/promotion.md §2 and client/replica_applier.h say how far that
// holds: a write within one tick of the file system's timestamp clock that keeps the size is
// not seen on kernels without fine-grained timestamps).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace walstream {

struct FileStamp {
  uint64_t inode = 0;
  uint64_t size = 0;
  uint64_t mtimeNs = 0;  // since the epoch
  uint64_t ctimeNs = 0;
  friend bool operator==(const FileStamp&, const FileStamp&) = default;
};

// nullopt when the file cannot be stat'ed.
std::optional<FileStamp> stampFile(const std::string& path);

}  // namespace walstream
