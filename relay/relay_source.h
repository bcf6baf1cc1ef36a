// A replica's StreamSource (docs/stream-source.md): it serves downstream replicas from what it
// has applied, at the upstream's positions and generations (docs/cascading.md).
//
// State:
//  - The window: the upstream's segments applied whole, stored in the shadow-WAL layout
//    (docs/shadow-wal.md) under LOCAL_DB-walstream/serve/, at the upstream's positions. It is
//    contiguous and ends at the applied position; anything that breaks that (a snapshot, a
//    segment partly resent, a new generation) restarts it empty at the new position. It holds at
//    most `windowIndexes` WAL indexes, and never drops one a live iterator or snapshot may need.
//    A window left by an earlier run is kept only when it is contiguous, whole, and ends exactly
//    at the position LOCAL_DB resumes at; otherwise it is dropped. A downstream at a position
//    before the window gets a snapshot, never a gap.
//  - The applied state (position, page size, the upstream's chain, LOCAL_DB's own WAL end),
//    recorded under the publish lock right after LOCAL_DB shows it.
//
// Locks: `publishMu_` is the applier's publish lock (client/applied_state_listener.h): held
// across each apply and its report (published(), forgotten()), by openSnapshot() while it begins
// its read transaction, and by openIterator() while it lists and registers. `mu_` guards what the
// event loop reads (position, health, name) and the registrations, and is held only briefly; it
// is never taken before publishMu_. Window files are written under publishMu_ alone.
// Order of a publish: window files written, then (under mu_) position moved and live iterators
// appended to: a listing made under publishMu_ finds a file for every segment before position().
#pragma once

#include <array>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/pos.h"
#include "core/wal_segment.h"
#include "relay/local_image.h"
#include "server/capture/stream_source.h"

namespace walstream::relay {

struct RelayOptions {
  std::string localPath;             // LOCAL_DB
  std::string id;                    // the replica's id (LOCAL_DB-walstream/id)
  uint32_t windowIndexes = 32;       // WAL indexes of the upstream kept for resuming downstreams
  uint32_t maxPublishPages = 10000;  // the most WAL pages one apply may hand live streams
};

// A segment of the upstream applied whole (client::AppliedSegment, in the relay's terms).
struct RelaySegment {
  Pos pos;
  std::span<const uint8_t> lz4;
  uint64_t walBytes = 0;
};

class RelaySource final : public StreamSource, public ReplicaChain {
 public:
  // Drops any window a previous run left.
  explicit RelaySource(RelayOptions options);
  ~RelaySource() override;
  RelaySource(const RelaySource&) = delete;
  RelaySource& operator=(const RelaySource&) = delete;

  // --- the applier's side (client/applied_state_listener.h) ---
  std::unique_lock<std::mutex> lockPublish() { return std::unique_lock(publishMu_); }
  // Publish lock held. LOCAL_DB now shows `state`, reached by `segments` when they continue the
  // window.
  void published(const ImageState& state, std::span<const RelaySegment> segments);
  void forgotten();        // publish lock held
  void revokeSnapshots();  // publish lock held: every snapshot's read transaction is closed
  // Ends every iterator (kClosed) and serves nothing more.
  void close();

  // The upstream's Walstream-Chain ("" for a primary): the replicas upstream of this one.
  // Malformed ids are left out.
  void setUpstreamChain(const std::string& chain);

  // --- ReplicaChain: refuses a downstream that is this replica or one upstream of it ---
  std::string cycleWith(std::string_view via) const override;
  std::string chainHeader() const override;

  // The name downstreams ask for (the database the replica follows upstream). Set once, before
  // the server starts.
  void setName(std::string name);
  // Waits until a state was published, `timeout` at most; true when one was.
  bool waitForState(std::chrono::milliseconds timeout);

  // --- StreamSource ---
  const std::string& path() const override { return options_.localPath; }
  std::string name() const override;
  uint32_t pageSize() const override;
  Pos position() const override;
  Pos writtenPosition() const override { return position(); }  // files come first
  bool healthy() const override;
  std::string healthReason() const override;
  const ShadowWal& shadow() const override { return shadow_; }
  uint32_t maxPublishPages() const override { return options_.maxPublishPages; }
  bool followsUpstream() const override { return true; }
  const ReplicaChain* replicaChain() const override { return this; }
  std::shared_ptr<SegmentIterator> openIterator(const Pos& from) override;
  std::optional<Pos> syncBarrier(std::chrono::milliseconds timeout) override;
  std::unique_ptr<SnapshotReader> openSnapshot(std::chrono::milliseconds shareWithin,
                                               const std::function<bool()>& wanted) override;

 private:
  // publishMu_ held. Whether `segments` lead from the window's end exactly to `to`.
  bool continuesWindow(std::span<const RelaySegment> segments, const Pos& to) const;
  // publishMu_ held. Whether the window an earlier run left ends exactly at `at`, whole and
  // contiguous.
  bool earlierWindowEndsAt(const Pos& at) const;
  // publishMu_ held, at the first state. Keeps the earlier run's window if it ends at `at`.
  void adoptEarlierWindow(const Pos& at);
  // publishMu_ held. Removes every stored segment; the window starts again empty.
  void restartWindow();
  // publishMu_ held. Writes the segments (one file per run of one index); returns their infos.
  std::vector<SegmentInfo> storeWindow(std::span<const RelaySegment> segments);
  // publishMu_ held. Drops indexes beyond the window that nothing still needs.
  void trimWindow(uint64_t newestIndex);
  // The lowest index of the current generation a live iterator or snapshot may need. mu_ held.
  uint64_t retentionFloorLocked();
  void failIteratorsLocked(IteratorEnd reason, const std::string& message);  // mu_ held

  const RelayOptions options_;
  ShadowWal shadow_;

  std::mutex publishMu_;
  std::optional<Pos> windowEnd_;  // publishMu_: where the stored window ends (the applied pos)
  bool started_ = false;          // publishMu_: a state was published in this run

  mutable std::mutex mu_;
  std::condition_variable stateChanged_;
  std::string name_;
  std::optional<ImageState> state_;  // the applied state; empty: nothing to serve
  std::string healthReason_ = "no applied position yet";
  bool closed_ = false;
  std::vector<std::weak_ptr<SegmentIterator>> iterators_;
  std::vector<std::weak_ptr<ImageLease>> leases_;
  std::vector<std::string> upstreamIds_;  // from the upstream's Walstream-Chain, nearest first
  mutable std::vector<std::string> refusedIds_;  // refusals logged once each
};

}  // namespace walstream::relay
