// A backup's state as /status, /metrics and /healthz show it: copied out under the writer's
// mutex (BackupWriter::status()), so readers never see a half-updated record.
#pragma once

#include <cstdint>
#include <string>

#include "core/pos.h"

namespace walstream::backup {

struct BackupStatus {
  std::string url;
  // What the store holds durably: the end of the last WAL object or snapshot written in the
  // current generation (empty until known).
  Pos backedUp;
  uint64_t lagBytes = 0;  // WAL bytes captured and not yet in the store
  double lagSeconds = 0;  // since the oldest of them was captured
  std::string lastError;  // "" once a write succeeded after it
  int64_t lastErrorAtMs = 0;
  uint64_t errors = 0;  // failed attempts, since start
  int64_t lastSnapshotAtMs = 0;
  uint64_t snapshotsWritten = 0;
  uint64_t walObjectsWritten = 0;
  uint64_t bytesWritten = 0;
  bool overMaxLag = false;  // the backup gave up its place in the shadow WAL; needs a snapshot
};

}  // namespace walstream::backup
