#include "backup/restore_plan.h"

#include <algorithm>

#include "core/error.h"
#include "core/log.h"

namespace walstream::backup {

namespace {

std::string timeText(int64_t ms) {
  return formatRfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

struct Candidate {
  uint64_t generation = 0;
  SnapshotEntry entry;
  SnapshotIndex index;
};

// Every snapshot of the generations the target allows, with its index, oldest first by time.
std::vector<Candidate> snapshotsOf(storage::ObjectStore& store,
                                   const std::vector<GenerationListing>& generations) {
  std::vector<Candidate> out;
  for (const GenerationListing& g : generations) {
    for (const SnapshotEntry& s : g.snapshots) {
      out.push_back({g.generation, s, readSnapshotIndex(store, s.key)});
    }
  }
  std::sort(out.begin(), out.end(), [](const Candidate& a, const Candidate& b) {
    return a.index.capturedAtMs < b.index.capturedAtMs;
  });
  return out;
}

// The snapshot to start from: the newest one at or before the target.
const Candidate& chooseSnapshot(const std::vector<Candidate>& candidates,
                                const RestoreTarget& target, const std::string& url) {
  if (candidates.empty()) {
    throw Error(url + ": no snapshot to restore " + target.describe() + " from");
  }
  const Candidate* best = nullptr;
  for (const Candidate& c : candidates) {
    if (target.pos && (c.generation != target.pos->generation ||
                       sameGenerationBefore(*target.pos, c.index.position))) {
      continue;
    }
    if (target.timestampMs && c.index.capturedAtMs > *target.timestampMs) continue;
    best = &c;  // candidates are oldest first: the last that qualifies is the newest
  }
  if (!best && target.timestampMs) {
    throw Error(url + ": " + timeText(*target.timestampMs) +
                " is before the oldest snapshot; the oldest restorable time is " +
                timeText(candidates.front().index.capturedAtMs));
  }
  if (!best) {
    throw Error(url + ": no snapshot at or before " + target.describe() +
                "; the oldest in its generation is at " + candidates.front().index.position.str());
  }
  return *best;
}

}  // namespace

std::string RestoreTarget::describe() const {
  if (pos) return "position " + pos->str();
  if (timestampMs) return "time " + timeText(*timestampMs);
  if (generation) return "the latest state of generation " + formatHex16(*generation);
  return "the latest state";
}

RestorePlan planRestore(storage::ObjectStore& store, const RestoreTarget& target) {
  std::vector<uint64_t> ids = listGenerations(store);
  if (ids.empty()) throw Error(store.url() + ": holds no backup (no generations/)");
  std::optional<uint64_t> only =
      target.pos ? std::optional(target.pos->generation) : target.generation;
  if (only && std::find(ids.begin(), ids.end(), *only) == ids.end()) {
    throw Error(store.url() + ": holds no generation " + formatHex16(*only));
  }
  std::vector<GenerationListing> listings;
  for (uint64_t id : ids) {
    if (!only || id == *only) listings.push_back(listGeneration(store, id));
  }
  const std::vector<Candidate> candidates = snapshotsOf(store, listings);
  const Candidate& chosen = chooseSnapshot(candidates, target, store.url());

  RestorePlan plan;
  plan.generation = chosen.generation;
  plan.snapshotKey = chosen.entry.key;
  plan.snapshot = chosen.index;
  const Pos& at = chosen.index.position;
  for (const GenerationListing& g : listings) {
    if (g.generation != chosen.generation) continue;
    // The object holding `at` is the last one starting at or before it in its index.
    for (size_t i = 0; i < g.walObjects.size(); ++i) {
      const WalObjectEntry& w = g.walObjects[i];
      const bool startsLater = sameGenerationBefore(at, w.start);
      const bool holdsAt =
          w.start.index == at.index && !startsLater &&
          (i + 1 == g.walObjects.size() || g.walObjects[i + 1].start.index != at.index ||
           sameGenerationBefore(at, g.walObjects[i + 1].start));
      if (startsLater || holdsAt) plan.walObjects.push_back(w);
    }
  }
  // A position target needs nothing past its own index.
  if (target.pos) {
    std::erase_if(plan.walObjects,
                  [&](const WalObjectEntry& w) { return w.start.index > target.pos->index; });
  }
  return plan;
}

}  // namespace walstream::backup
