// Follows a backup store: the newest state of its newest generation, as a series of views.
// Each poll lists the store's generations and the current generation's new WAL objects, applies
// those that appeared since (view_builder.h), and switches to a newer generation once one
// holds a snapshot captured after the newest commit of the current one (a primary that restarted
// and could not prove continuity). docs/vfs.md §5.
//
// Used by one thread at a time: the opener, then the poller.
#pragma once

#include <cstdint>
#include <memory>
#include <set>

#include "storage/object_store.h"
#include "vfs/view.h"
#include "vfs/view_builder.h"

namespace walstream::vfs {

class ViewFeed {
 public:
  // Builds the first view. Throws StorageError, or Error with a one-line reason.
  explicit ViewFeed(storage::ObjectStore& store);

  const std::shared_ptr<const View>& first() const { return first_; }
  // A new view when the backup moved since the last one, else null. Throws on storage errors;
  // the next poll carries on from what was applied.
  std::shared_ptr<const View> poll();

 private:
  // A generation newer than the current one, with a snapshot to start from: 0 when none.
  uint64_t newerGeneration();

  storage::ObjectStore& store_;
  std::unique_ptr<ViewBuilder> builder_;
  std::set<uint64_t> settled_;  // generations known to be no newer than the current one
  uint64_t version_ = 1;
  std::shared_ptr<const View> first_;
};

}  // namespace walstream::vfs
