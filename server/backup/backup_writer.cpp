#include "server/backup/backup_writer.h"

#include <algorithm>
#include <optional>
#include <span>
#include <vector>

#include "backup/catalog.h"
#include "backup/layout.h"
#include "backup/retention.h"
#include "backup/snapshot_object.h"
#include "backup/wal_object.h"
#include "core/error.h"
#include "core/log.h"
#include "core/lz4_codec.h"
#include "server/capture/segment_iterator.h"
#include "server/capture/snapshot.h"

namespace walstream::backup {

namespace {

using namespace std::chrono_literals;

// One WAL object holds at most this much of the shadow WAL's compressed bytes, and this many
// segments: a restore holds one object in memory per download in flight.
constexpr uint64_t kMaxObjectBytes = 16 << 20;
constexpr size_t kMaxObjectSegments = 4096;
// Past this much of capture's live buffers queued for the backup (a store slower than the
// application), the queue is dropped and the iterator opened again from the store's end:
// segments then come from the shadow WAL's files, read one object at a time.
constexpr uint64_t kMaxQueuedLiveBytes = 64 << 20;
constexpr size_t kMaxQueuedLiveSegments = 10000;
// Snapshot pages are read and compressed in chunks of this size.
constexpr size_t kSnapshotChunk = 1 << 20;
// How long a resume waits for capture to reach the store's end again (after a power loss cut
// the shadow WAL's tail, capture copies those frames again from the WAL).
constexpr auto kCatchUpWait = 10s;
constexpr auto kIdleWait = 1s;
constexpr auto kCaptureStartPoll = 20ms;
constexpr auto kLagCheckPeriod = 5s;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

uint64_t walBytesOf(const SegmentInfo& s) {
  if (s.walBytes != 0 || !s.data) return s.walBytes;
  return lz4ContentSize(asBytes(*s.data)).value_or(0);
}

}  // namespace

BackupWriter::BackupWriter(Database& db, std::unique_ptr<storage::ObjectStore> store,
                           BackupOptions options)
    : db_(db),
      store_(std::move(store)),
      options_(std::move(options)),
      backoff_(std::chrono::milliseconds(1000), std::chrono::milliseconds(60000)) {
  status_.url = store_->url();
  thread_ = std::jthread([this](std::stop_token stop) { run(stop); });
}

BackupWriter::~BackupWriter() {
  thread_.request_stop();
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  wake_.notify_all();
  thread_.join();
  closeIterator();
}

BackupStatus BackupWriter::status() const {
  std::lock_guard lock(mu_);
  return status_;
}

void BackupWriter::flush() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  wake_.notify_all();
}

bool BackupWriter::waitForBackedUp(const Pos& pos, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  return wake_.wait_for(lock, timeout, [&] {
    return status_.backedUp.generation == pos.generation &&
           !sameGenerationBefore(status_.backedUp, pos);
  });
}

void BackupWriter::run(std::stop_token stop) {
  while (!stop.stop_requested()) {
    try {
      step(stop);
    } catch (const std::exception& e) {
      failed(e.what());
      closeIterator();
      pending_.clear();
      waitUntil(stop, std::chrono::steady_clock::now() + backoff_.next());
    }
  }
}

void BackupWriter::step(std::stop_token& stop) {
  const Pos live = db_.writtenPosition();
  if (live.empty() || !db_.healthy()) {
    // Capture is starting (or reopening): its first position starts the backup's generation.
    waitUntil(stop, std::chrono::steady_clock::now() + kCaptureStartPoll);
    return;
  }
  if (generation_ != live.generation) {
    closeIterator();
    pending_.clear();
    backedUp_ = {};
    hold_.reset();
    resume(live.generation);
    return;
  }
  computeLag(live);
  if (needSnapshot_ || snapshotDue(live)) {
    writeSnapshot();
    applyRetention();
    return;
  }
  if (std::chrono::steady_clock::now() - lastRetention_ >= retentionPeriod()) applyRetention();
  if (!iterator_) {
    try {
      iterator_ = openIteratorAt(backedUp_);
    } catch (const Error& e) {
      // The shadow WAL no longer holds the store's end: continuity is lost; start over.
      log::warn(db_.path() + ": backup to " + store_->url() + " cannot continue at " +
                backedUp_.str() + " (" + e.what() + "); writing a snapshot");
      needSnapshot_ = true;
      return;
    }
  }
  follow(stop);
}

void BackupWriter::follow(std::stop_token& stop) {
  drain();
  if (!iterator_) return;  // dropped with a long queue: opened again from the store's end
  if (pending_.empty()) {
    if (auto ending = iterator_->ending()) {
      // A new generation (resume() takes it from there) or capture stopped (retried).
      closeIterator();
      if (ending->reason != IteratorEnd::kGenerationChanged) {
        waitUntil(stop, std::chrono::steady_clock::now() + kIdleWait);
      }
      return;
    }
    waitUntil(stop, std::chrono::steady_clock::now() + kIdleWait);
    return;
  }
  // An object gathers what is captured within the sync interval of its first segment: a
  // segment waits at most that long, and a backlog (segments captured long ago, or left over
  // from the last object at a WAL restart) is written at once, object after object.
  const int64_t waitMs = pending_.front().capturedAtMs + options_.syncInterval.count() - nowMs();
  if (waitMs > 0) {
    waitUntil(stop, std::chrono::steady_clock::now() + std::chrono::milliseconds(waitMs));
    if (stop.stop_requested()) return;
    drain();
    if (!iterator_ || pending_.empty()) return;
  }
  writeWalObject();
}

void BackupWriter::resume(uint64_t generation) {
  const GenerationListing listing = listGeneration(*store_, generation);
  generation_ = generation;
  needSnapshot_ = true;
  if (listing.snapshots.empty()) return;
  const SnapshotIndex snapshot = readSnapshotIndex(*store_, listing.snapshots.back().key);
  lastSnapshotIndex_ = snapshot.position.index;
  lastSnapshotAtMs_ = snapshot.capturedAtMs;
  // The store's copy ends at the later of the last snapshot and the end of the WAL objects. A
  // scheduled snapshot may be ahead of the WAL objects (taken before they caught up): they then
  // go on from their own end while the shadow WAL holds it, so that the positions before that
  // snapshot stay restorable; else from the snapshot.
  Pos end = snapshot.position;
  std::optional<Pos> walEnd;
  if (!listing.walObjects.empty()) {
    walEnd = readWalObjectHeader(*store_, listing.walObjects.back()).end();
    if (sameGenerationBefore(end, *walEnd)) end = *walEnd;
  }
  // After a power loss the shadow WAL may have lost its tail, which capture copies again.
  for (const auto until = std::chrono::steady_clock::now() + kCatchUpWait;
       sameGenerationBefore(db_.writtenPosition(), end) &&
       std::chrono::steady_clock::now() < until;) {
    db_.syncBarrier(std::chrono::milliseconds(500));
  }
  if (walEnd && sameGenerationBefore(*walEnd, end)) {
    try {
      iterator_ = openIteratorAt(*walEnd);
      end = *walEnd;
    } catch (const Error&) {
      // The shadow WAL no longer holds it: the chain goes on from the snapshot.
    }
  }
  try {
    if (!iterator_) iterator_ = openIteratorAt(end);
  } catch (const Error& e) {
    log::info(db_.path() + ": backup to " + store_->url() + " ends at " + end.str() +
              ", which the shadow WAL no longer holds (" + e.what() + "); writing a snapshot");
    return;
  }
  backedUp_ = end;
  hold_ = db_.holdRetention(end);
  needSnapshot_ = false;
  log::info(db_.path() + ": backup to " + store_->url() + " resumes at " + end.str());
  {
    std::lock_guard lock(mu_);
    status_.backedUp = end;
    status_.lastSnapshotAtMs = lastSnapshotAtMs_;
  }
  wake_.notify_all();  // waitForBackedUp
}

bool BackupWriter::snapshotDue(const Pos& live) const {
  return live.index > lastSnapshotIndex_ &&
         nowMs() - lastSnapshotAtMs_ >= options_.snapshotInterval.count();
}

void BackupWriter::writeSnapshot() {
  // A scheduled snapshot is one more object beside an unbroken chain of WAL objects: they go on
  // from where they end, so every position between the last WAL object and the snapshot stays
  // restorable from the snapshot before. Only a snapshot that starts over (a new generation, or
  // continuity lost: needSnapshot_) becomes the start of the WAL objects that follow it.
  bool startsOver = needSnapshot_;
  if (startsOver) {
    closeIterator();
    pending_.clear();
  }
  std::unique_ptr<SnapshotReader> reader = db_.openSnapshot();
  const Pos at = reader->position();
  const int64_t takenAtMs = nowMs();
  const std::string key = snapshotKey(at.generation, at.index);
  std::unique_ptr<storage::ObjectWriter> out = store_->create(key);
  SnapshotObjectWriter snapshot(*out, at, reader->pageSize(), reader->chain(), takenAtMs);
  std::string chunk(std::max<size_t>(kSnapshotChunk, reader->pageSize()), '\0');
  for (size_t n; (n = reader->readInto(chunk)) != 0;) snapshot.addPages({chunk.data(), n});
  snapshot.finish();
  out->commit();
  reader.reset();  // ends the read transaction

  if (!startsOver && at.generation != generation_) {
    // Capture started a new generation while the snapshot was due: the snapshot starts it.
    closeIterator();
    pending_.clear();
    startsOver = true;
  }
  lastSnapshotIndex_ = at.index;
  lastSnapshotAtMs_ = takenAtMs;
  log::info(db_.path() + ": backup to " + store_->url() + ": snapshot at " + at.str() + " (" +
            std::to_string(out->bytesWritten()) + " bytes)");
  if (startsOver) {
    generation_ = at.generation;
    backedUp_ = at;
    hold_ = db_.holdRetention(at);
    needSnapshot_ = false;
  }
  {
    std::lock_guard lock(mu_);
    if (startsOver) {
      status_.backedUp = at;
      status_.overMaxLag = false;
    }
    status_.lastSnapshotAtMs = takenAtMs;
    ++status_.snapshotsWritten;
    status_.bytesWritten += out->bytesWritten();
  }
  wake_.notify_all();  // waitForBackedUp
  succeeded();
}

void BackupWriter::drain() {
  if (!iterator_) return;
  // Bounded by the rate of appends: it loops only when one lands between next() and armNotify().
  for (;;) {
    while (std::optional<SegmentInfo> s = iterator_->next()) pending_.push(std::move(*s));
    if (pending_.liveBytes() > kMaxQueuedLiveBytes ||
        pending_.liveSegments() > kMaxQueuedLiveSegments) {
      // Far behind: let go of capture's buffers; the iterator is opened again from the store's
      // end, and the segments then come from the shadow WAL's files, one object at a time.
      log::info(db_.path() + ": backup to " + store_->url() + " is " +
                std::to_string(pending_.size()) + " segments behind; reading them from the " +
                "shadow WAL's files");
      closeIterator();
      pending_.clear();
      return;
    }
    if (!pending_.empty() || iterator_->ending()) return;
    const bool armed = iterator_->armNotify([this] {
      {
        std::lock_guard lock(mu_);
        woken_ = true;
      }
      wake_.notify_all();
    });
    if (armed) return;
  }
}

void BackupWriter::writeWalObject() {
  const SegmentInfo& first = pending_.front();
  if (first.pos != backedUp_) {
    // Only the start of the next index may follow the store's end other than at it, and only
    // where that index ended (SegmentIterator records it in the next index's first segment).
    if (first.pos.index != backedUp_.index + 1 || first.pos.offset != 0 ||
        (first.previousIndexEnd != 0 && first.previousIndexEnd != backedUp_.offset)) {
      throw Error("backup: the next segment starts at " + first.pos.str() +
                  ", which does not follow the store's end " + backedUp_.str());
    }
    backedUp_ = first.pos;
  }
  // One object: consecutive segments of one index, starting where the store's copy ends.
  std::vector<SegmentInfo> batch;
  uint64_t bytes = 0;
  Pos end = backedUp_;
  while (!pending_.empty() && batch.size() < kMaxObjectSegments) {
    const SegmentInfo& s = pending_.front();
    if (s.pos != end || (!batch.empty() && bytes + s.size > kMaxObjectBytes)) break;
    const uint64_t walBytes = walBytesOf(s);
    if (walBytes == 0) throw Error("backup: shadow WAL segment " + s.pos.str() + " is damaged");
    bytes += s.size;
    end.offset += walBytes;
    batch.push_back(pending_.pop());
    batch.back().walBytes = walBytes;
  }

  // Bytes of segments listed from disk come from their files, a run of one file per read.
  std::vector<std::shared_ptr<const std::string>> data(batch.size());
  for (size_t i = 0; i < batch.size();) {
    if (batch[i].data) {
      data[i] = batch[i].data;
      ++i;
      continue;
    }
    size_t j = i + 1;
    while (j < batch.size() && !batch[j].data && batch[j].fileOffset == batch[i].fileOffset &&
           batch[j].byteOffset == batch[j - 1].byteOffset + batch[j - 1].size) {
      ++j;
    }
    std::vector<std::string> run =
        db_.shadow().readSegmentRun(std::span<const SegmentInfo>(batch.data() + i, j - i));
    for (size_t k = 0; k < run.size(); ++k) {
      data[i + k] = std::make_shared<const std::string>(std::move(run[k]));
    }
    i = j;
  }

  WalObjectHeader header;
  header.start = batch.front().pos;
  header.previousIndexEnd = batch.front().previousIndexEnd;
  std::vector<std::span<const uint8_t>> frames;
  for (size_t i = 0; i < batch.size(); ++i) {
    header.segments.push_back(
        {batch[i].pos.offset, batch[i].walBytes, data[i]->size(), batch[i].capturedAtMs});
    frames.push_back(asBytes(*data[i]));
  }
  const std::string object = encodeWalObject(header, frames);
  std::unique_ptr<storage::ObjectWriter> out = store_->create(walObjectKey(header.start));
  out->write(object);
  out->commit();

  backedUp_ = header.end();
  if (iterator_) iterator_->consumed(backedUp_);
  if (hold_) hold_->advance(backedUp_);
  {
    std::lock_guard lock(mu_);
    status_.backedUp = backedUp_;
    ++status_.walObjectsWritten;
    status_.bytesWritten += object.size();
  }
  wake_.notify_all();  // waitForBackedUp
  succeeded();
}

std::shared_ptr<SegmentIterator> BackupWriter::openIteratorAt(const Pos& end) {
  try {
    return db_.openIterator(end);
  } catch (const Error&) {
    // The store may end exactly where its WAL index ended, and capture be in the next one
    // already: no segment starts at `end` then, but one starts the next index.
    const std::vector<SegmentInfo> segments = db_.shadow().listSegments(end.generation, end.index);
    const bool indexEndsThere = !segments.empty() && segments.back().walBytes != 0 &&
                                segments.back().pos.offset + segments.back().walBytes == end.offset;
    if (!indexEndsThere) throw;
    return db_.openIterator(Pos{end.generation, end.index + 1, 0});
  }
}

std::chrono::milliseconds BackupWriter::retentionPeriod() const {
  // Often enough that the store holds little more than the window; at most hourly.
  return std::min<std::chrono::milliseconds>(options_.retention / 4, std::chrono::hours(1));
}

void BackupWriter::applyRetention() {
  lastRetention_ = std::chrono::steady_clock::now();
  try {
    const size_t removed =
        backup::applyRetention(*store_, nowMs() - options_.retention.count(), backedUp_.generation);
    if (removed > 0) {
      log::info(db_.path() + ": backup to " + store_->url() + ": retention removed " +
                std::to_string(removed) + " objects");
    }
  } catch (const std::exception& e) {
    // Retention failing costs space in the store, not data: the backup goes on.
    failed(std::string("retention: ") + e.what());
  }
}

void BackupWriter::closeIterator() {
  if (iterator_) iterator_->close();
  iterator_.reset();
}

void BackupWriter::computeLag(const Pos& live) {
  const auto now = std::chrono::steady_clock::now();
  uint64_t lag = 0;
  if (backedUp_.empty() || live.generation != backedUp_.generation) {
    lag = 0;  // unknown until resume() finds the store's end
  } else if (live.index == backedUp_.index) {
    lag = live.offset >= backedUp_.offset ? live.offset - backedUp_.offset : 0;
  } else if (now - lastLagCheck_ >= kLagCheckPeriod) {
    // Across WAL indexes: the sizes of the segments in between, from their files' headers.
    lastLagCheck_ = now;
    for (const SegmentInfo& s : db_.shadow().listSegmentsFrom(backedUp_)) lag += s.walBytes;
  } else {
    std::lock_guard lock(mu_);
    lag = status_.lagBytes;
  }
  if (lag == 0) caughtUpAtMs_ = nowMs();
  std::lock_guard lock(mu_);
  status_.lagBytes = lag;
  status_.lagSeconds = lag == 0 ? 0 : static_cast<double>(nowMs() - caughtUpAtMs_) / 1000;
}

void BackupWriter::failed(const std::string& message) {
  const std::string line = db_.path() + ": backup to " + store_->url() + ": " + message;
  bool overMaxLag = false;
  {
    std::lock_guard lock(mu_);
    ++status_.errors;
    status_.lastError = message;
    status_.lastErrorAtMs = nowMs();
    // Holding the shadow WAL's indexes for a store that does not take writes has a bound.
    if (hold_ && status_.lagBytes > options_.maxLagBytes) {
      status_.overMaxLag = overMaxLag = true;
    }
  }
  // Once per distinct message: a store that stays down does not flood the log.
  if (line != lastLoggedError_) {
    log::error(line + " (retrying)");
    lastLoggedError_ = line;
  }
  if (overMaxLag) {
    log::error(db_.path() + ": backup to " + store_->url() + " is more than " +
               std::to_string(options_.maxLagBytes) +
               " bytes behind (--backup-max-lag): the shadow WAL no longer keeps what it needs; "
               "a snapshot will be written once the store takes writes again");
    hold_.reset();
    needSnapshot_ = true;
  }
}

void BackupWriter::succeeded() {
  backoff_.reset();
  if (!lastLoggedError_.empty()) {
    log::info(db_.path() + ": backup to " + store_->url() + " recovered");
    lastLoggedError_.clear();
  }
  std::lock_guard lock(mu_);
  status_.lastError.clear();
}

void BackupWriter::waitUntil(std::stop_token& stop,
                             std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  wake_.wait_until(lock, stop, deadline, [&] { return woken_; });
  woken_ = false;
}

}  // namespace walstream::backup
