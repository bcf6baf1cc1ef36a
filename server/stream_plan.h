// Where a /stream starts (docs/design.md §3): at the requested position with no snapshot when that
// is exactly a segment boundary of the current generation that is still retained (and, when the
// client sent one, its checksum matches ours); with a snapshot otherwise.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/pos.h"
#include "core/wal_format.h"
#include "server/capture/segment_iterator.h"
#include "server/capture/snapshot.h"
#include "server/capture/stream_source.h"
#include "server/counted_snapshot.h"

namespace walstream::server {

struct StreamPlan {
  std::unique_ptr<SnapshotReader> snapshot;  // set: the stream starts with this snapshot
  // Every segment after the start, then live ones. Only for a resume: after a snapshot the
  // session opens it once the snapshot is sent (stream_session.h).
  std::shared_ptr<SegmentIterator> iterator;
  std::optional<SegmentInfo> first;  // already taken from the iterator
  Pos start;                         // the snapshot's position, or where it resumes
  uint32_t pageSize = 0;
  std::string snapshotReason;  // why a snapshot was chosen, for the log
  // Set when the client's position in another history is where the current generation's
  // lineage says it begins (docs/promotion.md §3): the stream resumes at the generation's 0:0.
  std::optional<Pos> continues;
};

// Blocking (disk and SQLite): run it on the worker pool. Throws HttpError(503, retryable) while
// capture has no position or cannot produce a snapshot, and when the stream needs a snapshot
// while every place of `snapshots` (--max-snapshots) is taken; a snapshot planned holds one
// until its reader is destroyed (counted_snapshot.h). A snapshot opened less than
// `snapshotShareWindow` ago is reused (StreamSource::openSnapshot).
// `wanted` answers false once the client has gone: a snapshot being opened for it is then
// abandoned (SnapshotAbandoned).
// `mayContinue`: the client asked for a continuation (proto::StreamRequest::continues).
StreamPlan planStream(StreamSource& source, const Pos& requested,
                      const std::optional<Checksum>& checksum, bool mayContinue,
                      std::chrono::milliseconds snapshotShareWindow, SnapshotCount& snapshots,
                      const std::function<bool()>& wanted);

// The segment start at which a stream for a client at `requested` continues, if it can resume
// there: `requested` itself when a retained segment starts there or it is the current end, or
// the next index's offset 0 when `requested` is exactly the end of a finished index. Blocking.
std::optional<Pos> resumePoint(const StreamSource& source, const Pos& requested, const Pos& end);

}  // namespace walstream::server
