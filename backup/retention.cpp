#include "backup/retention.h"

#include <optional>

namespace walstream::backup {

namespace {

struct SnapshotRef {
  uint64_t generation = 0;
  const SnapshotIndex* index = nullptr;
};

// S*: the newest snapshot taken at or before the window's start.
std::optional<SnapshotRef> snapshotAtWindowStart(const std::vector<GenerationState>& generations,
                                                 int64_t windowStartMs) {
  std::optional<SnapshotRef> best;
  for (const GenerationState& g : generations) {
    for (const SnapshotIndex& s : g.snapshots) {
      if (s.capturedAtMs > windowStartMs) continue;
      if (!best || s.capturedAtMs > best->index->capturedAtMs) {
        best = SnapshotRef{g.listing.generation, &s};
      }
    }
  }
  return best;
}

// Whether every object of `g` predates `ms`: its snapshots by their capture time, and, for a
// generation without any snapshot (unrestorable), its objects by the store's time.
bool endedBefore(const GenerationState& g, int64_t ms) {
  for (const SnapshotIndex& s : g.snapshots) {
    if (s.capturedAtMs >= ms) return false;
  }
  const auto at = std::chrono::system_clock::time_point(std::chrono::milliseconds(ms));
  for (const WalObjectEntry& w : g.listing.walObjects) {
    if (g.snapshots.empty() && w.modified >= at) return false;
  }
  return true;
}

void removeWhole(const GenerationState& g, std::vector<std::string>& out) {
  for (const SnapshotEntry& s : g.listing.snapshots) out.push_back(s.key);
  for (const WalObjectEntry& w : g.listing.walObjects) out.push_back(w.key);
}

// In S*'s own generation: what lies wholly before S*'s position.
void removeBefore(const GenerationState& g, const Pos& at, std::vector<std::string>& out) {
  for (size_t i = 0; i < g.listing.snapshots.size(); ++i) {
    if (sameGenerationBefore(g.snapshots[i].position, at))
      out.push_back(g.listing.snapshots[i].key);
  }
  const std::vector<WalObjectEntry>& wal = g.listing.walObjects;
  for (size_t i = 0; i < wal.size(); ++i) {
    // An object ends where the next one of its index starts; the last of an index before S*'s
    // index ends before S* too. The last object of S*'s index (or a later one) may reach past
    // S*: kept.
    const bool earlierIndex = wal[i].start.index < at.index;
    const bool endsBefore = i + 1 < wal.size() && wal[i + 1].start.index == wal[i].start.index &&
                            wal[i].start.index == at.index && wal[i + 1].start.offset <= at.offset;
    if (earlierIndex || endsBefore) out.push_back(wal[i].key);
  }
}

}  // namespace

std::vector<std::string> planRetention(const std::vector<GenerationState>& generations,
                                       int64_t windowStartMs, uint64_t currentGeneration) {
  std::vector<std::string> out;
  const std::optional<SnapshotRef> keep = snapshotAtWindowStart(generations, windowStartMs);
  if (!keep) return out;
  for (const GenerationState& g : generations) {
    if (g.listing.generation == keep->generation) {
      removeBefore(g, keep->index->position, out);
    } else if (g.listing.generation != currentGeneration &&
               endedBefore(g, keep->index->capturedAtMs)) {
      removeWhole(g, out);
    }
  }
  return out;
}

size_t applyRetention(storage::ObjectStore& store, int64_t windowStartMs,
                      uint64_t currentGeneration) {
  std::vector<GenerationState> generations;
  for (uint64_t id : listGenerations(store)) {
    GenerationState g;
    g.listing = listGeneration(store, id);
    for (const SnapshotEntry& s : g.listing.snapshots) {
      g.snapshots.push_back(readSnapshotIndex(store, s.key));
    }
    generations.push_back(std::move(g));
  }
  std::vector<std::string> keys = planRetention(generations, windowStartMs, currentGeneration);
  // In batches: one request each for object storage (S3 deletes up to 1,000 keys at once).
  constexpr size_t kBatch = 1000;
  for (size_t i = 0; i < keys.size(); i += kBatch) {
    const size_t n = std::min(kBatch, keys.size() - i);
    store.remove(std::vector<std::string>(keys.begin() + i, keys.begin() + i + n));
  }
  return keys.size();
}

}  // namespace walstream::backup
