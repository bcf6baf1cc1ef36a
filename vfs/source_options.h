// What a database opened through the walstream VFS reads, and how: its URI parameters
// (docs/vfs.md §1).
//
//   backup=URL             the backup's store, file:///ABSOLUTE/PATH or s3://BUCKET/PREFIX?...
//                          (percent-encoded in the URI); default: $WALSTREAM_VFS_BACKUP
//   cache-size=BYTES       the page cache's bound, e.g. 64MiB (default) or 0
//   poll=DURATION          how often to look for new WAL objects, e.g. 1s (default), 250ms; 0:
//                          never (the database stays at the state it was opened at)
//   s3-credentials=FILE    S3 keys as in ~/.aws/credentials; default: AWS_ACCESS_KEY_ID, ...
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "vfs/page_source.h"

namespace walstream::vfs {

inline constexpr uint64_t kDefaultCacheBytes = uint64_t{64} << 20;
inline constexpr std::chrono::milliseconds kDefaultPoll{1000};
inline constexpr const char* kBackupEnvironmentVariable = "WALSTREAM_VFS_BACKUP";

struct SourceOptions {
  std::string url;
  std::string s3CredentialsFile;
  uint64_t cacheBytes = kDefaultCacheBytes;
  std::chrono::milliseconds poll = kDefaultPoll;
  FetchPolicy fetch;

  // Files opened with equal identities share one backup source (its cache and its poller).
  std::string identity() const;
};

// A URI parameter's value (already percent-decoded), or null when absent.
using UriParameter = std::function<const char*(const char* name)>;

// Throws Error with one line naming the parameter and what it wants. `environmentBackup` is the
// value of WALSTREAM_VFS_BACKUP, or null.
SourceOptions parseSourceOptions(const UriParameter& parameter, const char* environmentBackup);

}  // namespace walstream::vfs
