#include "server/capture/database.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <iterator>
#include <thread>
#include <utility>

#include "core/error.h"
#include "core/log.h"

namespace walstream {

namespace {

// See waitForChange.
constexpr auto kCommitSettle = std::chrono::milliseconds(2);
constexpr auto kCommitSettlePoll = std::chrono::microseconds(20);
// Frames beyond the copy whose commit is still not published after the settle: the writer is
// syncing the WAL (an fsync can take longer than the settle) or still writing a transaction.
// No inotify event announces the publication, so capture looks again after this long, doubling
// up to the maximum while the frames stay unpublished, instead of after the poll interval. (Frames
// of a transaction that spilled to the WAL and then rolled back stay "unpublished" until the
// next commit overwrites them: a few cheap wake-ups a second meanwhile.)
constexpr auto kUnpublishedFirstRecheck = std::chrono::milliseconds(2);
constexpr auto kUnpublishedMaxRecheck = std::chrono::milliseconds(256);

}  // namespace

Database::Database(std::string path, CaptureOptions options)
    : path_(std::move(path)),
      options_(options),
      shadow_(path_ + "-walstream", *options_.fileSystem),
      positionFile_(shadow_.positionPath(), *options_.fileSystem),
      segmentFiles_(shadow_.root() + "/spare", *options_.fileSystem) {
  int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (fd < 0) throwErrno("cannot create an eventfd for", path_);
  wakeFd_.reset(fd);
}

Database::~Database() {
  closeCapture("capture stopped");
  // dbFd_ closes after this body: every SQLite connection of ours is gone by then.
}

std::string Database::name() const {
  return baseName(path_);
}

uint32_t Database::pageSize() const {
  std::lock_guard lock(mu_);
  return pageSize_;
}

Pos Database::position() const {
  std::lock_guard lock(mu_);
  return live_;
}

Pos Database::writtenPosition() const {
  std::lock_guard lock(mu_);
  return position_;
}

bool Database::healthy() const {
  std::lock_guard lock(mu_);
  return running_ && healthReason_.empty();
}

std::string Database::healthReason() const {
  std::lock_guard lock(mu_);
  return healthReason_;
}

void Database::wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wakeFd_.get(), &one, sizeof one);
}

void Database::open() {
  if (!dbFd_.valid()) {
    if (!pathExists(path_)) throw Error("database " + path_ + " does not exist");
    dbFd_ = openFile(path_, O_RDONLY);
  }
  shadow_.createDirs(shadow_.root());
  segmentFiles_.fill();  // later refills run on the checkpoint worker
  const uint64_t round = beginCopyRound();
  auto capture = std::make_unique<WalCapture>(path_, options_, shadow_, segmentFiles_, metrics_);
  CaptureStart start = capture->open();
  capture_ = std::move(capture);
  {
    std::lock_guard lock(mu_);
    pageSize_ = start.pageSize;
    running_ = true;
    healthReason_.clear();
  }
  if (!start.newGeneration) {
    log::info(path_ + ": resuming generation " + formatHex16(start.catchUp.end.generation) +
              " at " + start.catchUp.end.str());
  }
  publish(start.catchUp);
  roundPublished(round);
}

void Database::sync() {
  // A sync counts as finished for syncBarrier() waiters even when it fails, but only one that
  // succeeded, and left no copied segment without a file, stands for every frame committed
  // before it started (one that follows a failed write may succeed without writing anything).
  struct Finished {
    Database& db;
    uint64_t round = 0;
    bool good = false;
    ~Finished() {
      std::lock_guard lock(db.mu_);
      db.lastSyncFinished_ = round;
      if (good) db.lastGoodSync_ = round;
      db.syncDone_.notify_all();
    }
  } finished{*this};
  const auto t0 = std::chrono::steady_clock::now();
  // New segments go to live streams first, from memory; writing their files, the position and
  // checkpoints follow off the path from commit to replica. The round's number and the flush
  // request are taken together: a barrier that asks after this round began waits for the next.
  bool flush = false;
  {
    std::lock_guard lock(mu_);
    finished.round = ++copyRoundsStarted_;
    flush = std::exchange(flushRequested_, false);
  }
  const CaptureSync copied = capture_->copyNew();
  publishLive(copied);
  roundPublished(finished.round);
  if (flush || capture_->writeDue(std::chrono::steady_clock::now())) {
    capture_->writeSegmentFiles();
  }
  publishWritten(copied);
  const CaptureSync checkpointed = capture_->checkpointIfDue();
  publishLive(checkpointed);
  publishWritten(checkpointed);
  metrics_.syncDuration.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  capture_->prepareNextSegment();
  metrics_.walBytes.store(fileSize(capture_->walFd(), capture_->walPath()));
  finished.good = capture_->writtenEnd() == checkpointed.end;
  if (options_.afterSync) options_.afterSync();
}

void Database::publish(const CaptureSync& result) {
  publishLive(result);
  publishWritten(result);
}

void Database::publishLive(const CaptureSync& result) {
  std::lock_guard lock(mu_);
  if (result.newGenerationReason) {
    failIterators(IteratorEnd::kGenerationChanged, "generation changed");
    inFlight_.clear();
  }
  uint64_t generation = inFlight_.empty() ? position_.generation : inFlight_.back().pos.generation;
  for (const SegmentInfo& s : result.segments) {
    if (s.pos.generation != generation) {
      failIterators(IteratorEnd::kGenerationChanged, "generation changed");
      inFlight_.clear();
      generation = s.pos.generation;
    }
    std::erase_if(iterators_, [&](const std::weak_ptr<SegmentIterator>& w) {
      auto it = w.lock();
      if (!it || it->closed()) return true;
      it->append(s);  // a violation fails that iterator only
      return false;
    });
    inFlight_.push_back(s);
  }
  live_ = result.end;
}

void Database::publishWritten(const CaptureSync& result) {
  const Pos before = writtenPosition();
  const Pos written = capture_->writtenEnd();
  {
    std::lock_guard lock(mu_);
    position_ = written;
    std::erase_if(inFlight_, [&](const SegmentInfo& s) {
      return s.pos.generation != written.generation || sameGenerationBefore(s.pos, written);
    });
  }
  // Every position's text form has the same length: the in-place rewrite keeps it whole.
  if (written != before) positionFile_.write(written.str() + "\n", /*durable=*/false);
  if (result.newGenerationReason || before.generation != written.generation) {
    shadow_.removeOld(written.generation, 0, &segmentFiles_);
  }
  if (result.walRestarted) {
    log::info(path_ + ": WAL restarted; now at " + result.end.str());
    if (result.end.index >= options_.shadowRetention) {
      const uint64_t firstKept = std::min(result.end.index - options_.shadowRetention + 1,
                                          retentionFloor(result.end.generation));
      shadow_.removeOld(result.end.generation, firstKept, &segmentFiles_);
    }
  }
}

uint64_t Database::retentionFloor(uint64_t generation) {
  std::lock_guard lock(mu_);
  uint64_t floor = UINT64_MAX;
  for (const auto& w : iterators_) {
    auto it = w.lock();
    if (it && !it->closed() && it->generation() == generation) {
      floor = std::min(floor, it->floorIndex());
    }
  }
  for (const auto& w : leases_) {
    auto l = w.lock();
    if (l && l->generation == generation) floor = std::min(floor, l->index.load());
  }
  std::erase_if(holds_, [](const std::weak_ptr<RetentionHold>& w) { return w.expired(); });
  for (const auto& w : holds_) {
    auto h = w.lock();
    if (h && h->generation() == generation) floor = std::min(floor, h->index());
  }
  return floor;
}

void Database::RetentionHold::advance(const Pos& to) {
  if (to.generation != generation_) return;
  uint64_t now = index_.load(std::memory_order_relaxed);
  while (to.index > now && !index_.compare_exchange_weak(now, to.index)) {
  }
}

std::shared_ptr<Database::RetentionHold> Database::holdRetention(const Pos& from) {
  auto hold = std::make_shared<RetentionHold>(from.generation, from.index);
  std::lock_guard lock(mu_);
  holds_.push_back(hold);
  return hold;
}

void Database::failIterators(IteratorEnd reason, const std::string& message) {
  for (auto& w : iterators_) {
    if (auto it = w.lock()) it->fail(reason, message);
  }
  iterators_.clear();
}

namespace {

// An iterator of an ended generation, for a consumer still standing in it.
std::shared_ptr<SegmentIterator> endedGenerationIterator(uint64_t generation) {
  auto it = std::make_shared<SegmentIterator>(generation, std::deque<SegmentInfo>{});
  it->fail(IteratorEnd::kGenerationChanged, "generation changed");
  return it;
}

}  // namespace

std::shared_ptr<SegmentIterator> Database::openIterator(const Pos& from) {
  // The listing reads directories and the block headers of every segment file from `from` on:
  // many files for a client far behind. It runs outside mu_, which capture's publishing and the
  // HTTP thread's status take. Files are written before position_ moves past their segments,
  // so a listing begun at position_ == P holds every segment before P; those from P on are in
  // inFlight_ until their files are written. If position_ moved during the listing, the files
  // from the old P on are listed again (a short listing), the last time under mu_.
  constexpr int kUnlockedListings = 4;
  std::vector<SegmentInfo> listed;
  Pos listFrom = from;
  std::unique_lock lock(mu_);
  // Checked again after each listing: the capture may have stopped, or a new generation begun
  // (failing the iterators registered before), while mu_ was released.
  auto checkLive = [&] {
    if (!running_ || position_.empty()) throw Error("capture of " + path_ + " is not running");
    return from.generation == live_.generation;
  };
  for (int attempt = 0;; ++attempt) {
    if (!checkLive()) return endedGenerationIterator(from.generation);
    const Pos listedAt = position_;
    const bool unlocked = attempt < kUnlockedListings;
    if (unlocked) lock.unlock();
    std::vector<SegmentInfo> more = shadow_.listSegmentsFrom(listFrom);
    if (unlocked && options_.afterUnlockedListing) options_.afterUnlockedListing();
    if (unlocked) lock.lock();
    std::erase_if(listed,
                  [&](const SegmentInfo& s) { return !sameGenerationBefore(s.pos, listFrom); });
    std::move(more.begin(), more.end(), std::back_inserter(listed));
    if (position_ == listedAt || !unlocked) break;
    if (listedAt.generation == from.generation && sameGenerationBefore(from, listedAt)) {
      listFrom = listedAt;
    }
  }
  if (!checkLive()) return endedGenerationIterator(from.generation);
  // Segments written but not yet published (at or after position_) are left to the append.
  std::deque<SegmentInfo> segments;
  for (SegmentInfo& s : listed) {
    if (sameGenerationBefore(s.pos, position_)) segments.push_back(std::move(s));
  }
  // Segments already sent to live streams whose files are being written follow the listing.
  for (const SegmentInfo& s : inFlight_) {
    if (s.pos.generation == from.generation && !sameGenerationBefore(s.pos, from)) {
      segments.push_back(s);
    }
  }
  // Nothing listed means the consumer is where capture stands: the next segment published is
  // the one it needs. Anything else is a hole (retention removed what it needed, or `from` is
  // not a segment boundary) that the consumer must not skip.
  if (segments.empty() ? from != live_ : segments.front().pos != from) {
    throw Error("no segment of the shadow WAL starts at " + from.str() +
                (segments.empty()
                     ? " (capture is at " + live_.str() + ")"
                     : " (the next one starts at " + segments.front().pos.str() + ")"));
  }
  auto it = std::make_shared<SegmentIterator>(from.generation, std::move(segments), from);
  iterators_.push_back(it);
  return it;
}

std::optional<Pos> Database::syncBarrier(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  if (!running_) return std::nullopt;
  // The next round to start: a sync (or, after capture failed and reopened, open()'s catch-up,
  // and then the sync after it, since running_ went false in between).
  const uint64_t target = copyRoundsStarted_ + 1;
  flushRequested_ = true;  // that sync writes every segment it has into a file
  lock.unlock();
  wake();
  lock.lock();
  if (!syncDone_.wait_for(lock, timeout,
                          [&] { return lastSyncFinished_ >= target || !running_; })) {
    return std::nullopt;
  }
  if (!running_ || lastGoodSync_ < target) return std::nullopt;
  return position_;
}

uint64_t Database::beginCopyRound() {
  std::lock_guard lock(mu_);
  return ++copyRoundsStarted_;
}

void Database::roundPublished(uint64_t round) {
  {
    std::lock_guard lock(mu_);
    copyRoundsPublished_ = round;
  }
  std::lock_guard lock(listenerMu_);
  if (publishListener_) publishListener_();
}

uint64_t Database::requestCaptureRound() {
  uint64_t next = 0;
  {
    std::lock_guard lock(mu_);
    next = copyRoundsStarted_ + 1;
  }
  wake();
  return next;
}

std::optional<Pos> Database::capturedThrough(uint64_t round) const {
  std::lock_guard lock(mu_);
  if (copyRoundsPublished_ < round) return std::nullopt;
  return live_;
}

void Database::setPublishListener(std::function<void()> listener) {
  std::lock_guard lock(listenerMu_);
  publishListener_ = std::move(listener);
}

void Database::closeCapture(const std::string& reason) {
  std::vector<std::shared_ptr<SnapshotLease>> leases;
  {
    std::lock_guard lock(mu_);
    running_ = false;         // no snapshot, iterator or barrier begins from here on
    sharedSnapshot_.reset();  // no request may reuse it any more
    for (const auto& w : leases_) {
      if (auto l = w.lock()) leases.push_back(std::move(l));
    }
    leases_.clear();
  }
  for (const auto& l : leases) {
    std::lock_guard hold(l->mu);
    l->revoked = true;
    l->connection.reset();
  }
  capture_.reset();
  std::lock_guard lock(mu_);
  inFlight_.clear();
  if (healthReason_.empty()) healthReason_ = reason;
  failIterators(IteratorEnd::kClosed, reason);
  syncDone_.notify_all();
}

void Database::close() {
  closeCapture("capture stopped");
}

void Database::waitForChange(std::stop_token& stop, int inotifyFd) {
  pollfd fds[2] = {{wakeFd_.get(), POLLIN, 0}, {inotifyFd, POLLIN, 0}};
  const int n = inotifyFd >= 0 ? 2 : 1;
  // Segments waiting to be batched into a file are written when their delay is up, even if
  // nothing else happens.
  auto timeout = options_.pollInterval;
  // A commit published after sync() copied: the inotify events of its frames may have been
  // read before (by the wake-up whose settle ended before the publication), and the publication
  // itself raises none. Waiting for an event would leave it uncaptured until the next write or
  // the poll interval; poll() only collects what is pending, and the next sync copies it.
  const bool published = capture_ && capture_->commitPending();
  const bool unpublishedFrames = !published && capture_ && capture_->framesBeyondCopy();
  if (published) {
    timeout = std::chrono::milliseconds(0);
    unpublishedRecheck_ = kUnpublishedFirstRecheck;
  } else if (unpublishedFrames) {
    timeout = std::min<std::chrono::milliseconds>(timeout, unpublishedRecheck_);
    unpublishedRecheck_ = std::min(unpublishedRecheck_ * 2, kUnpublishedMaxRecheck);
  } else {
    unpublishedRecheck_ = kUnpublishedFirstRecheck;
  }
  if (capture_) {
    if (auto due = capture_->writeDeadline()) {
      const auto left =
          std::chrono::ceil<std::chrono::milliseconds>(*due - std::chrono::steady_clock::now());
      timeout = std::clamp(left, std::chrono::milliseconds(0), timeout);
    }
  }
  int r = ::poll(fds, n, static_cast<int>(timeout.count()));
  if (r > 0) {
    char buf[4096];
    if (fds[0].revents & POLLIN) {
      [[maybe_unused]] ssize_t x = ::read(wakeFd_.get(), buf, sizeof buf);
    }
    if (n == 2 && (fds[1].revents & POLLIN)) {
      [[maybe_unused]] ssize_t x = ::read(inotifyFd, buf, sizeof buf);
      // SQLite writes a transaction's frames (each write an inotify event) and only then
      // publishes the commit in the wal-index, which inotify cannot see. Woken by the last
      // frame's write, a sync could run before that publication and then sleep until the next
      // write or the poll interval; when frames beyond the copied ones are in the WAL, give
      // the publication a moment instead. An event for frames already copied (SQLite writes a
      // frame in two calls, so events outlive the sync they woke) costs one pread; a
      // transaction still being written costs at most kCommitSettle of polling per wake-up.
      // Frames found before the wait are still beyond the copy after it (this thread copied
      // nothing since; a WAL restarted meanwhile has a first frame of its own, which counts
      // too), so only whether their commit came is asked, and the WAL is not read again. Should
      // they be gone (a rolled-back transaction's frames overwritten), the cost is the
      // kCommitSettle of polling a transaction still being written costs.
      const bool settle = unpublishedFrames ? !capture_->commitPending()
                                            : capture_ && capture_->framesAwaitingCommit();
      if (settle) {
        const auto settleEnd = std::chrono::steady_clock::now() + kCommitSettle;
        auto pause = kCommitSettlePoll;
        while (!capture_->commitPending() && !stop.stop_requested() &&
               std::chrono::steady_clock::now() < settleEnd) {
          std::this_thread::sleep_for(pause);
          pause = std::min(pause * 2, kCommitSettlePoll * 8);
        }
      }
      // --monitor-delay batches a burst of commits into one sync. Only a stop request cuts
      // the delay short.
      if (options_.monitorDelay.count() > 0 && !stop.stop_requested()) {
        pollfd w{wakeFd_.get(), POLLIN, 0};
        ::poll(&w, 1, static_cast<int>(options_.monitorDelay.count()));
      }
    }
  }
}

void Database::run(std::stop_token stop) {
  // The default 50 us of timer slack would stretch every short wait of this thread (see
  // waitForChange) several times over.
  ::prctl(PR_SET_TIMERSLACK, 1000UL, 0UL, 0UL, 0UL);
  std::stop_callback onStop(stop, [this] { wake(); });
  std::string lastError;
  auto backoff = std::chrono::milliseconds(100);
  while (!stop.stop_requested()) {
    UniqueFd inotify(::inotify_init1(IN_CLOEXEC | IN_NONBLOCK));
    try {
      if (!capture_) {
        open();
        if (inotify.valid()) {
          ::inotify_add_watch(inotify.get(), (path_ + "-wal").c_str(), IN_MODIFY | IN_CLOSE_WRITE);
        }
        if (!lastError.empty()) log::info(path_ + ": capture recovered");
        lastError.clear();
        backoff = std::chrono::milliseconds(100);
      }
      while (!stop.stop_requested()) {
        sync();
        waitForChange(stop, inotify.get());
      }
    } catch (const std::exception& e) {
      const std::string msg = e.what();
      if (msg != lastError) log::error(path_ + ": " + msg + " (retrying)");
      lastError = msg;
      {
        std::lock_guard lock(mu_);
        healthReason_ = msg;
      }
      closeCapture(msg);
      pollfd w{wakeFd_.get(), POLLIN, 0};
      ::poll(&w, 1, static_cast<int>(backoff.count()));
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }
  closeCapture("capture stopped");
}

}  // namespace walstream
