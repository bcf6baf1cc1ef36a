// `cp` of a file on the same disk, timed: the reference for how fast a database file can be
// written (bootstrap and restore scenarios). The source is usually in the page cache, having
// just been written or read, so plain cp can return before its data reaches the disk; the time
// with an fsync of the copy is taken too.
#pragma once

#include <string>

namespace walstream::bench {

struct CopyTimes {
  double cpSeconds = 0;       // /bin/cp SRC DST
  double cpFsyncSeconds = 0;  // the same, then fsync of DST
};

// Copies `from` to `to` (which must not exist) with /bin/cp and fsyncs the copy. Throws
// walstream::Error when cp fails.
CopyTimes timedCopy(const std::string& from, const std::string& to, const std::string& logPrefix);

}  // namespace walstream::bench
