#include "vfs/view_feed.h"

#include "backup/catalog.h"

namespace walstream::vfs {

ViewFeed::ViewFeed(storage::ObjectStore& store) : store_(store) {
  // Listed before the plan: the plan chose the newest of these (or of a later listing), and a
  // generation that appears in between is looked at by the first poll.
  const std::vector<uint64_t> ids = backup::listGenerations(store_);
  builder_ = std::make_unique<ViewBuilder>(store_);
  for (uint64_t id : ids) {
    if (id != builder_->generation()) settled_.insert(id);
  }
  first_ = builder_->view(version_);
}

uint64_t ViewFeed::newerGeneration() {
  for (uint64_t id : backup::listGenerations(store_)) {
    if (id == builder_->generation() || settled_.count(id) != 0) continue;
    const backup::GenerationListing g = backup::listGeneration(store_, id);
    if (g.snapshots.empty()) continue;  // its first snapshot is not written yet: look again later
    settled_.insert(id);
    const backup::SnapshotIndex newest = backup::readSnapshotIndex(store_, g.snapshots.back().key);
    if (newest.capturedAtMs > builder_->capturedAtMs()) return id;
  }
  return 0;
}

std::shared_ptr<const View> ViewFeed::poll() {
  if (const uint64_t id = newerGeneration(); id != 0) {
    auto next = std::make_unique<ViewBuilder>(store_, id);
    settled_.insert(builder_->generation());
    builder_ = std::move(next);
    return builder_->view(++version_);
  }
  if (builder_->advance()) {
    return builder_->view(++version_);
  }
  return nullptr;
}

}  // namespace walstream::vfs
