// What the HTTP server needs of a database to serve /stream, /status and /pos from it
// (docs/stream-source.md): positions, health, the segment files, live iterators and snapshots.
// The primary's capture (Database) is one; a replica that serves downstream replicas is to be
// another. Read-your-writes (POST /sync) is an optional capability, CaptureRounds, that only a
// source where commits are made has.
//
// Contract, for every implementation:
//  - Positions, generations and segment boundaries are those of the history the source serves:
//    a client may move between two sources of the same history without a snapshot.
//  - writtenPosition() <= position(), in the same generation or an older one; every segment
//    before writtenPosition() has its file, in the layout shadow() reads (docs/shadow-wal.md).
//  - An iterator opened at a segment boundary yields every segment from there, contiguous,
//    then live ones as they are published, and ends with kGenerationChanged or kClosed.
//  - A snapshot's position is a segment boundary that an iterator can be opened at while the
//    reader lives (the reader keeps that index from retention).
// Members not marked blocking never block (the server calls them on its event loop); blocking
// ones run on the server's workers.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/pos.h"
#include "server/capture/capture_metrics.h"
#include "server/capture/segment_iterator.h"
#include "server/capture/shadow_wal.h"
#include "server/capture/snapshot.h"

namespace walstream {

// Read-your-writes in copy rounds (docs/read-your-writes.md): a round that starts after a moment
// has published every commit made before that moment. Only the primary's capture has them.
class CaptureRounds {
 public:
  // The number of the next round to start, and the source is woken to start it now.
  virtual uint64_t requestCaptureRound() = 0;
  // The position published once round `round`, or a later one, has published; nullopt before.
  virtual std::optional<Pos> capturedThrough(uint64_t round) const = 0;
  // Called after each publish (and after a round that published nothing new), once position()
  // shows it; it must not block. Empty: none. Replaces the previous listener; once this
  // returns, the previous one is not running and will not run.
  virtual void setPublishListener(std::function<void()> listener) = 0;

 protected:
  ~CaptureRounds() = default;  // not owned through this interface
};

// A replica serving downstream replicas, as a link of a chain (docs/cascading.md §5): its own id
// and those of the replicas upstream of it. Only such a source has one.
class ReplicaChain {
 public:
  // Why a stream request that names its replica `via` (Walstream-Via) would close a cycle of
  // replicas following each other: a one-line error; "" when it would not (or `via` is empty).
  // Never blocks.
  virtual std::string cycleWith(std::string_view via) const = 0;
  // The Walstream-Chain response header: this replica's id, then those upstream of it.
  virtual std::string chainHeader() const = 0;

 protected:
  ~ReplicaChain() = default;  // not owned through this interface
};

class StreamSource {
 public:
  virtual ~StreamSource() = default;

  virtual const std::string& path() const = 0;  // as given on the command line
  virtual std::string name() const = 0;         // the file name, as served over HTTP
  virtual uint32_t pageSize() const = 0;        // 0 until the source has a position
  // The end of what live streams have been sent; empty until the source has one.
  virtual Pos position() const = 0;
  // The end of the segments in files: what listings, resume checks and snapshots can use.
  virtual Pos writtenPosition() const = 0;
  virtual bool healthy() const = 0;
  virtual std::string healthReason() const = 0;  // why not healthy ("" when healthy)

  // The segment files (listings, reads, checksums at a position, lineage of a generation).
  virtual const ShadowWal& shadow() const = 0;
  // About the most WAL pages one publish may hand live streams at once; a stream's queue limit
  // allows for twice that.
  virtual uint32_t maxPublishPages() const = 0;

  // Every segment at or after `from` (a segment boundary of the current generation), then live
  // ones. Blocking.
  virtual std::shared_ptr<SegmentIterator> openIterator(const Pos& from) = 0;
  // Waits until every segment published before this call has its file; returns
  // writtenPosition() then, nullopt on timeout or when the source is not running. Blocking.
  virtual std::optional<Pos> syncBarrier(std::chrono::milliseconds timeout) = 0;
  // The database image at a published position. `shareWithin` > 0 lets an image opened that
  // recently be reused; `wanted` answering false abandons the opening (SnapshotAbandoned).
  // Blocking; throws Error when the source cannot produce one.
  virtual std::unique_ptr<SnapshotReader> openSnapshot(std::chrono::milliseconds shareWithin,
                                                       const std::function<bool()>& wanted) = 0;

  // Whether the source follows an upstream (a replica serving downstream replicas): it may be
  // behind a client that came from another source of the same history, so a position beyond
  // its end in its generation is answered "retry" rather than with a snapshot of an older state.
  virtual bool followsUpstream() const { return false; }

  // Optional capabilities; null when the source has none.
  virtual CaptureRounds* captureRounds() { return nullptr; }                // POST /sync
  virtual const CaptureMetrics* captureMetrics() const { return nullptr; }  // capture families
  virtual const ReplicaChain* replicaChain() const { return nullptr; }      // cycle refusal
};

}  // namespace walstream
