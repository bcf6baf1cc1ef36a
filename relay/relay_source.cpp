#include "relay/relay_source.h"

#include <algorithm>
#include <deque>
#include <limits>

#include "core/error.h"
#include "core/log.h"

namespace walstream::relay {

namespace {

// The window's directory: LOCAL_DB-walstream/serve (docs/cascading.md §3).
std::string windowRoot(const std::string& localPath) {
  return localPath + "-walstream/serve";
}

}  // namespace

RelaySource::RelaySource(RelayOptions options)
    : options_(std::move(options)), shadow_(windowRoot(options_.localPath)) {}

bool RelaySource::earlierWindowEndsAt(const Pos& at) const {
  // Contiguous from its first segment, every segment whole, and ending exactly at `at`: then it
  // holds the upstream's segments up to the state LOCAL_DB resumes at (docs/cascading.md §3).
  std::optional<Pos> end;
  for (uint64_t index : shadow_.listIndexes(at.generation)) {
    for (const SegmentInfo& s : shadow_.listSegments(at.generation, index)) {
      if (s.walBytes == 0 || (end && !segmentMayFollow(*end, s.pos))) return false;
      end = Pos{s.pos.generation, s.pos.index, s.pos.offset + s.walBytes};
    }
  }
  return end == at;
}

RelaySource::~RelaySource() {
  close();
}

void RelaySource::close() {
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    healthReason_ = "the replica is stopping";
    failIteratorsLocked(IteratorEnd::kClosed, options_.localPath + ": the replica is stopping");
  }
  stateChanged_.notify_all();
}

void RelaySource::setName(std::string name) {
  std::lock_guard lock(mu_);
  name_ = std::move(name);
}

bool RelaySource::waitForState(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  stateChanged_.wait_for(lock, timeout, [&] { return state_.has_value() || closed_; });
  return state_.has_value();
}

void RelaySource::setUpstreamChain(const std::string& chain) {
  // At most 64 ids of 16 lowercase hex digits each: what a relay sends, and all it echoes.
  std::vector<std::string> ids;
  size_t at = 0;
  while (at <= chain.size() && ids.size() < 64) {
    size_t end = chain.find(',', at);
    if (end == std::string::npos) end = chain.size();
    const std::string id = chain.substr(at, end - at);
    const bool hex =
        id.size() == 16 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
    if (hex) ids.push_back(id);
    at = end + 1;
  }
  std::lock_guard lock(mu_);
  upstreamIds_ = std::move(ids);
}

std::string RelaySource::chainHeader() const {
  std::lock_guard lock(mu_);
  std::string header = options_.id;
  for (const std::string& id : upstreamIds_) header += "," + id;
  return header;
}

std::string RelaySource::cycleWith(std::string_view via) const {
  if (via.empty()) return {};
  std::lock_guard lock(mu_);
  const bool self = via == options_.id;
  const bool upstream =
      std::find(upstreamIds_.begin(), upstreamIds_.end(), via) != upstreamIds_.end();
  if (!self && !upstream) return {};
  const std::string why = name_ + ": refused, a cycle of replicas: the replica " +
                          std::string(via) + (self ? " is this one" : " is upstream of this one") +
                          " (" + options_.localPath + "), which cannot serve it";
  if (std::find(refusedIds_.begin(), refusedIds_.end(), via) == refusedIds_.end()) {
    refusedIds_.emplace_back(via);
    log::error(why);
  }
  return why;
}

std::string RelaySource::name() const {
  std::lock_guard lock(mu_);
  return name_;
}

uint32_t RelaySource::pageSize() const {
  std::lock_guard lock(mu_);
  return state_ ? state_->pageSize : 0;
}

Pos RelaySource::position() const {
  std::lock_guard lock(mu_);
  return state_ ? state_->pos : Pos{};
}

bool RelaySource::healthy() const {
  std::lock_guard lock(mu_);
  return state_.has_value() && !closed_;
}

std::string RelaySource::healthReason() const {
  std::lock_guard lock(mu_);
  return state_ && !closed_ ? std::string() : healthReason_;
}

bool RelaySource::continuesWindow(std::span<const RelaySegment> segments, const Pos& to) const {
  Pos end = *windowEnd_;
  for (const RelaySegment& s : segments) {
    if (s.walBytes == 0 || !segmentMayFollow(end, s.pos)) return false;
    end = Pos{s.pos.generation, s.pos.index, s.pos.offset + s.walBytes};
  }
  return end == to;
}

void RelaySource::adoptEarlierWindow(const Pos& at) {
  try {
    if (!earlierWindowEndsAt(at)) return;  // dropped by the restart that follows
    shadow_.removeOld(at.generation, 0);   // other generations
    windowEnd_ = at;
    log::info(options_.localPath + ": the stream window of the last run ends at " + at.str() +
              " and is kept");
  } catch (const Error& e) {
    log::warn(options_.localPath + ": the stream window of the last run is dropped: " + e.what());
  }
}

void RelaySource::published(const ImageState& state, std::span<const RelaySegment> segments) {
  std::optional<IteratorEnding> ending;
  std::vector<SegmentInfo> stored;
  bool restart = false;
  if (!started_) {
    started_ = true;
    if (segments.empty()) adoptEarlierWindow(state.pos);
  }
  if (!windowEnd_ || windowEnd_->generation != state.pos.generation) {
    restart = true;
    if (windowEnd_) {
      ending = IteratorEnding{IteratorEnd::kGenerationChanged,
                              "the upstream began generation " + formatHex16(state.pos.generation)};
    }
  } else if (segments.empty() && state.pos == *windowEnd_) {
    // The same state (LOCAL_DB's own WAL may have been truncated): nothing to store.
  } else if (continuesWindow(segments, state.pos)) {
    try {
      stored = storeWindow(segments);
    } catch (const Error& e) {
      log::warn(options_.localPath + ": the stream window restarts at " + state.pos.str() + ": " +
                e.what());
      restart = true;
    }
  } else {
    restart = true;
  }
  if (restart) {
    if (!ending) {
      ending = IteratorEnding{IteratorEnd::kError,
                              "the relay has no segments from " +
                                  (windowEnd_ ? windowEnd_->str() : std::string("(none)")) +
                                  " to " + state.pos.str() + " (a snapshot was applied)"};
    }
    restartWindow();
  }
  windowEnd_ = state.pos;
  {
    std::lock_guard lock(mu_);
    if (ending && restart) failIteratorsLocked(ending->reason, ending->message);
    state_ = state;
    for (const SegmentInfo& info : stored) {
      for (const auto& weak : iterators_) {
        if (auto it = weak.lock()) it->append(info);
      }
    }
    std::erase_if(iterators_, [](const std::weak_ptr<SegmentIterator>& w) {
      auto it = w.lock();
      return !it || it->closed();
    });
  }
  stateChanged_.notify_all();
  const bool newIndex = std::any_of(stored.begin(), stored.end(),
                                    [](const SegmentInfo& s) { return s.pos.offset == 0; });
  if (newIndex) trimWindow(stored.back().pos.index);
}

std::vector<SegmentInfo> RelaySource::storeWindow(std::span<const RelaySegment> segments) {
  std::vector<SegmentInfo> infos;
  infos.reserve(segments.size());
  for (const RelaySegment& s : segments) {
    infos.push_back(ShadowWal::newSegment(
        s.pos, std::string(reinterpret_cast<const char*>(s.lz4.data()), s.lz4.size()), s.walBytes));
  }
  // One file per run of one index (storeSegments' rule); not made durable: the window does not
  // survive a restart (docs/cascading.md §3).
  for (size_t first = 0; first < infos.size();) {
    size_t end = first + 1;
    while (end < infos.size() && infos[end].pos.index == infos[first].pos.index) ++end;
    shadow_.storeSegments(std::span<SegmentInfo>(infos).subspan(first, end - first));
    first = end;
  }
  return infos;
}

void RelaySource::restartWindow() {
  try {
    // Everything: no generation is 0. Segments after `at` left in place could break the
    // contiguity of the next ones written.
    shadow_.removeOld(0, 0);
  } catch (const Error& e) {
    log::warn(options_.localPath + ": cannot empty the stream window: " + e.what());
  }
}

void RelaySource::trimWindow(uint64_t newestIndex) {
  if (newestIndex + 1 <= options_.windowIndexes) return;
  uint64_t keep = newestIndex + 1 - options_.windowIndexes;
  {
    std::lock_guard lock(mu_);
    keep = std::min(keep, retentionFloorLocked());
  }
  try {
    shadow_.removeOld(windowEnd_->generation, keep);
  } catch (const Error& e) {
    log::warn(options_.localPath + ": cannot trim the stream window: " + e.what());
  }
}

uint64_t RelaySource::retentionFloorLocked() {
  uint64_t floor = std::numeric_limits<uint64_t>::max();
  const uint64_t generation = state_ ? state_->pos.generation : 0;
  for (const auto& weak : iterators_) {
    if (auto it = weak.lock(); it && !it->closed() && it->generation() == generation) {
      floor = std::min(floor, it->floorIndex());
    }
  }
  std::erase_if(leases_, [](const std::weak_ptr<ImageLease>& w) { return w.expired(); });
  for (const auto& weak : leases_) {
    if (auto lease = weak.lock(); lease && lease->pos.generation == generation) {
      floor = std::min(floor, lease->pos.index);
    }
  }
  return floor;
}

void RelaySource::failIteratorsLocked(IteratorEnd reason, const std::string& message) {
  for (const auto& weak : iterators_) {
    if (auto it = weak.lock()) it->fail(reason, message);
  }
  iterators_.clear();
}

void RelaySource::forgotten() {
  restartWindow();
  windowEnd_.reset();
  std::lock_guard lock(mu_);
  state_.reset();
  healthReason_ = "the replica forgot its position and is fetching a snapshot";
  failIteratorsLocked(IteratorEnd::kClosed, options_.localPath + ": " + healthReason_);
}

void RelaySource::revokeSnapshots() {
  std::vector<std::shared_ptr<ImageLease>> leases;
  {
    std::lock_guard lock(mu_);
    for (const auto& weak : leases_) {
      if (auto lease = weak.lock()) leases.push_back(std::move(lease));
    }
  }
  for (const auto& lease : leases) {
    std::lock_guard hold(lease->mu);
    lease->revoked = true;
    lease->connection.reset();
  }
}

std::shared_ptr<SegmentIterator> RelaySource::openIterator(const Pos& from) {
  std::lock_guard publish(publishMu_);
  uint64_t generation = 0;
  {
    std::lock_guard lock(mu_);
    if (closed_ || !state_) throw Error(options_.localPath + ": " + healthReason_);
    generation = state_->pos.generation;
  }
  if (from.generation != generation) {
    auto ended =
        std::make_shared<SegmentIterator>(from.generation, std::deque<SegmentInfo>{}, from);
    ended->fail(IteratorEnd::kGenerationChanged,
                "generation " + formatHex16(from.generation) + " is not the current one");
    return ended;
  }
  const std::vector<SegmentInfo> listed = shadow_.listSegmentsFrom(from);
  auto it = std::make_shared<SegmentIterator>(
      generation, std::deque<SegmentInfo>(listed.begin(), listed.end()), from);
  std::lock_guard lock(mu_);
  iterators_.push_back(it);
  return it;
}

std::optional<Pos> RelaySource::syncBarrier(std::chrono::milliseconds) {
  // Window files are written before the position moves past them.
  std::lock_guard lock(mu_);
  if (!state_ || closed_) return std::nullopt;
  return state_->pos;
}

std::unique_ptr<SnapshotReader> RelaySource::openSnapshot(std::chrono::milliseconds,
                                                          const std::function<bool()>& wanted) {
  std::shared_ptr<ImageLease> lease;
  ImageState state;
  {
    // Under the publish lock the read transaction sees exactly the state recorded last.
    std::lock_guard publish(publishMu_);
    {
      std::lock_guard lock(mu_);
      if (closed_ || !state_) throw Error(options_.localPath + ": " + healthReason_);
      state = *state_;
    }
    lease = beginImageRead(options_.localPath, state.pos);
    std::lock_guard lock(mu_);
    leases_.push_back(lease);
  }
  std::unique_ptr<SnapshotReader> image =
      openLocalImage(options_.localPath, std::move(lease), state, wanted);
  log::info(options_.localPath + ": a snapshot for a downstream at " + state.pos.str() + " (" +
            std::to_string(image->size() / state.pageSize) + " pages, LOCAL_DB's WAL at frame " +
            std::to_string(state.localMxFrame) + ")");
  return image;
}

}  // namespace walstream::relay
