#include "server/capture/wal_capture.h"

#include <fcntl.h>
#include <sched.h>
#include <sqlite3.h>

#include <cstring>
#include <random>
#include <thread>
#include <utility>

#include "core/error.h"
#include "core/file_stamp.h"
#include "core/log.h"
#include "core/lz4_codec.h"
#include "core/promotion_record.h"
#include "server/capture/database.h"

namespace walstream {

namespace {

// Segments are cut at the first commit boundary past this many WAL bytes, so a reader never
// has to hold much more than this in memory for one segment (a single larger transaction still
// makes one larger segment: segments never split a transaction).
constexpr size_t kSegmentTargetBytes = 4 << 20;

// Frames are read from the -wal in batches of about this size.
constexpr size_t kReadBatchBytes = 4 << 20;
// copyCommitted keeps its buffers between syncs up to this size.
constexpr size_t kKeptBufferBytes = 1 << 20;

// The hand-off's wait for the application's write lock: polled this often, for at most
// kHandOffLockWait below the maximum WAL size (the next sync tries again).
constexpr auto kLockPollInterval = std::chrono::microseconds(50);
constexpr auto kHandOffLockWait = std::chrono::milliseconds(100);
// Past the maximum WAL size, how long the hand-off holds the write lock waiting for the
// application's readers to let the backfill finish (at most the busy timeout).
constexpr auto kMaxReaderWait = std::chrono::milliseconds(1000);
// A hand-off that holds the write lock this long is reported in the log, with its steps.
constexpr auto kLongHold = std::chrono::milliseconds(500);
// The hand-off copies what the WAL holds beyond the copy under the application's write lock:
// it goes ahead only when that is at most this much (tens of milliseconds of work), and waits
// for a later sync, once capture has caught up, otherwise. A capture that had fallen behind a
// fast writer would otherwise stop the application's writers for as long as it took to catch
// up (seconds), and they would fail with SQLITE_BUSY.
constexpr uint64_t kMaxHandOffCopyBytes = 16 << 20;
// While the WAL is past the maximum and hand-offs wait for capture to catch up, this is said in
// the log at most this often.
constexpr auto kBehindReportInterval = std::chrono::seconds(60);

// Segments not yet durable are made durable at the latest when this many have piled up (when
// hand-offs keep failing), to bound the work left for the next hand-off or shutdown.
constexpr size_t kMaxUnsyncedSegments = 1024;

// Segments copied in this long go into one segment file (shadow_wal.h); more than this many
// compressed bytes are written at once, so memory stays bounded.
constexpr auto kFileBatchDelay = std::chrono::milliseconds(20);
constexpr size_t kMaxUnwrittenBytes = 1 << 20;

// The hand-off syncs at most this many segments and backfills at most about this many frames
// itself (under the application's write lock); more go to the worker first.
constexpr size_t kMaxHandOffSegments = 8;
constexpr uint32_t kMaxHandOffFrames = 128;
constexpr int kMaxWorkerPasses = 3;

// The copy found the WAL not continuing the shadow WAL (salts, checksum chain, page size):
// capture must start a new generation rather than skip or patch anything.
class ContinuityError : public Error {
 public:
  using Error::Error;
};

uint64_t newGenerationId() {
  std::random_device rd;
  for (;;) {
    uint64_t v = (uint64_t{rd()} << 32) | rd();
    if (v != 0) return v;
  }
}

std::string hexSalts(uint32_t s1, uint32_t s2) {
  return formatHex16((uint64_t{s1} << 32) | s2);
}

}  // namespace

struct WalCapture::Tail {
  uint64_t generation = 0;
  uint64_t index = 0;
  uint32_t frames = 0;  // frames of the index captured
  WalChainState chain;
  // The index's segment files. A previous run may have been killed before they were durable.
  std::vector<Pos> files;
};

WalCapture::WalCapture(const std::string& path, const CaptureOptions& options,
                       const ShadowWal& shadow, SegmentFilePool& pool, CaptureMetrics& metrics)
    : path_(path),
      walPath_(path + "-wal"),
      shmPath_(path + "-shm"),
      options_(options),
      shadow_(shadow),
      pool_(pool),
      metrics_(metrics) {}

WalCapture::~WalCapture() {
  // Once the pin is gone the application may restart the WAL, so the segments written since the
  // last hand-off must be durable first (shadow_wal.h). A failed sync here is remembered by the
  // ShadowWal, so the next open starts a new generation; it must not stop the shutdown.
  if (worker_) {
    worker_->wait();
    try {
      worker_->rethrowFailure(&unsynced_);  // a failed job's segments are still owed
    } catch (const std::exception& e) {
      log::warn(path_ + ": checkpoint worker: " + e.what());
    }
  }
  try {
    makeSegmentsDurable();
  } catch (const std::exception& e) {
    log::warn(path_ + ": " + e.what());
  }
  worker_.reset();
  // Connections first (they own SQLite's POSIX locks), then our descriptors: see file_util.h.
  for (auto& p : pins_) p.reset();
  writer_.reset();
  checkpointer_.reset();
}

CaptureStart WalCapture::open() {
  const int busyMs = static_cast<int>(options_.busyTimeout.count());
  checkpointer_ = std::make_unique<SqliteConnection>(path_);
  checkpointer_->setBusyTimeout(busyMs);
  const std::string mode = checkpointer_->queryText("PRAGMA journal_mode");
  if (mode != "wal") {
    log::info(path_ + ": journal_mode is " + mode + "; switching the database to WAL mode");
    const std::string now = checkpointer_->queryText("PRAGMA journal_mode=WAL");
    if (now != "wal") {
      throw Error("cannot switch " + path_ + " to WAL mode (journal_mode is still " + now + ")");
    }
  }
  checkpointer_->setPersistWal(true);
  writer_ = std::make_unique<SqliteConnection>(path_);
  writer_->setPersistWal(true);
  writer_->setBusyTimeout(busyMs);  // for the catch-up below; the hand-off uses less
  for (auto& p : pins_) {
    p = std::make_unique<SqliteConnection>(path_);
    p->setPersistWal(true);
    p->setBusyTimeout(busyMs);
  }
  worker_ = std::make_unique<CheckpointWorker>(path_, shadow_, pool_, busyMs);
  lastCheckpoint_ = std::chrono::steady_clock::now();
  // The shadow tail depends on nothing of the WAL: it is read (and a damaged end cut) before the
  // application's write lock is taken, so that the lock is held only to compare and copy.
  std::optional<Tail> tail = readShadowTail();

  if (options_.beforeOpenLock) options_.beforeOpenLock();
  // Everything that compares the WAL with the shadow WAL runs under the application's write
  // lock. Before it, nothing pins the WAL in a way that stops a restart: a first pin begun
  // while every frame is backfilled sits on READ_LOCK(0), and an application transaction that
  // was open while walstream was down may commit, and restart the WAL, at any moment. Under
  // the lock nothing can commit, restart or truncate the WAL, so the comparison and the
  // catch-up copy see one WAL, and the pin begun after the copy can land on READ_LOCK(0) only
  // when every frame is copied.
  // Polled: SQLite's own busy handler, sleeping milliseconds between tries, almost never finds
  // the lock free beside an application that commits back to back.
  writer_->setPollingBusyTimeout(kLockPollInterval, options_.busyTimeout);
  writer_->exec("BEGIN IMMEDIATE");  // busy: the caller retries open() later; creates -wal, -shm
  CaptureStart start;
  try {
    walFd_ = openFile(walPath_, O_RDONLY);
    shmFd_ = openFile(shmPath_, O_RDONLY);
    if (fileSize(shmFd_.get(), shmPath_) < kShmBlockSize) {
      throw Error(shmPath_ + " is smaller than one wal-index block; is " + path_ +
                  " opened with locking_mode=EXCLUSIVE?");
    }
    shm_ = ShmMapping(shmFd_.get(), 0, kShmBlockSize, /*writable=*/false, shmPath_);
    const std::string why = continuityProblem(tail);
    if (why.empty()) {
      generation_ = tail->generation;
      index_ = tail->index;
      pageSize_ = tail->chain.pageSize;
      chain_ = tail->chain;
      copiedFrames_ = tail->frames;
      indexHasSegments_ = true;
      unsynced_ = tail->files;  // made durable with the catch-up's, before the pin
    } else {
      startGeneration(why, &start.catchUp);
    }
    if (pageSize_ == 0) {
      pageSize_ = static_cast<uint32_t>(checkpointer_->queryInt("PRAGMA page_size"));
    }
    start.pageSize = pageSize_;
    copyOrStartGeneration(start.catchUp);
    // Durable before the pin can let the WAL restart (it may land on READ_LOCK(0)).
    makeSegmentsDurable();
    beginPin(0);
    setPinMark(readIndexHeader());  // stable under the write lock: mxFrame == copiedFrames_
  } catch (...) {
    writer_->exec("ROLLBACK");
    throw;
  }
  writer_->exec("ROLLBACK");
  start.catchUp.end = endPosition();
  if (start.catchUp.newGenerationReason) {
    start.newGeneration = true;
    start.reason = *start.catchUp.newGenerationReason;
  }
  return start;
}

std::string WalCapture::continuityProblem(const std::optional<Tail>& tail) {
  const WalIndexHeader h = readIndexHeader();
  const std::optional<WalHeader> wh = readWalHeader();
  // Until a generation has taken the promotion record over (startGeneration), the database's
  // history is the one it was promoted from, whatever generation a crash left behind.
  if (pathExists(promotedRecordPath(path_))) return "the database was promoted from a replica";
  if (!tail) return "no usable shadow WAL";
  if (shadow_.syncFailedIn(tail->generation)) {
    return "a sync of generation " + formatHex16(tail->generation) +
           "'s files failed earlier: what it covered may not be on disk, whatever a later sync "
           "says";
  }
  if (!wh) return "the WAL file has no valid header";
  if (wh->pageSize != tail->chain.pageSize) return "the page size changed";
  if (wh->salt1 != tail->chain.salt1 || wh->salt2 != tail->chain.salt2 || h.salt1() != wh->salt1 ||
      h.salt2() != wh->salt2) {
    return "the WAL was restarted or replaced while walstream was not running (salts " +
           hexSalts(wh->salt1, wh->salt2) + ", shadow has " +
           hexSalts(tail->chain.salt1, tail->chain.salt2) + ")";
  }
  if (tail->frames > h.mxFrame) {
    return "the WAL holds fewer committed frames (" + std::to_string(h.mxFrame) +
           ") than the shadow WAL (" + std::to_string(tail->frames) + ")";
  }
  if (tail->frames == 0) {
    return wh->checksum != tail->chain.checksum ? "the WAL header differs from the shadow WAL" : "";
  }
  uint8_t fh[kWalFrameHeaderSize];
  const uint64_t off = walFrameOffset(tail->frames, wh->pageSize);
  if (preadFull(walFd_.get(), fh, sizeof fh, off, walPath_) != sizeof fh) {
    return "the WAL is shorter than the shadow WAL";
  }
  const WalFrameHeader f = WalFrameHeader::decode(fh);
  if (f.checksum != tail->chain.checksum || f.salt1 != wh->salt1 || f.salt2 != wh->salt2) {
    return "the WAL frame at offset " + std::to_string(off) + " differs from the shadow WAL";
  }
  return "";
}

std::optional<WalCapture::Tail> WalCapture::readShadowTail() {
  std::optional<uint64_t> gen = shadow_.readGeneration();
  if (!gen) return std::nullopt;
  std::vector<uint64_t> indexes = shadow_.listIndexes(*gen);
  if (indexes.empty()) return std::nullopt;
  const uint64_t index = indexes.back();
  std::vector<SegmentInfo> segs = shadow_.listSegments(*gen, index);
  if (segs.empty() || segs.front().pos.offset != 0) return std::nullopt;
  // Segments of the last index may not all be durable (shadow_wal.h): after a power failure
  // any of them can be truncated or empty. Every one is checked, in order, against the chain;
  // the first that is damaged or out of place ends the usable tail.
  WalChainState state;
  uint64_t end = 0;
  std::vector<Pos> files;
  for (const SegmentInfo& seg : segs) {
    std::string problem;
    if (seg.pos.offset != end) {
      problem = "it does not follow the previous segment, which ends at " + std::to_string(end);
    } else {
      try {
        const std::string raw =
            lz4Decompress(asBytes(shadow_.readSegmentData(seg)), kMaxWalSegmentBytes);
        end = parseWalSegment(asBytes(raw), seg.pos.offset, state).endOffset;
      } catch (const Error& e) {
        problem = e.what();
      }
    }
    if (problem.empty()) {
      if (seg.byteOffset == 0) files.push_back({*gen, index, seg.fileOffset});
      continue;
    }
    log::warn(path_ + ": shadow WAL segment " + seg.pos.str() + " is unusable (" + problem +
              "); it and the segments after it will be copied again from the WAL");
    if (seg.pos.offset == 0) return std::nullopt;
    shadow_.removeSegmentsFrom(seg.pos);
    break;
  }
  Tail t;
  t.generation = *gen;
  t.index = index;
  t.chain = state;
  t.files = std::move(files);
  t.frames = static_cast<uint32_t>((end - kWalHeaderSize) / (state.pageSize + kWalFrameHeaderSize));
  return t;
}

Pos WalCapture::endPosition() const {
  return {generation_, index_,
          copiedFrames_ == 0 ? 0 : walFrameOffset(copiedFrames_ + 1, pageSize_)};
}

void WalCapture::startGeneration(const std::string& reason, CaptureSync* out) {
  writeSegmentFiles();  // the old generation's, so unwritten_ holds one index only
  generation_ = newGenerationId();
  index_ = 0;
  chain_.reset();
  walHeader_.reset();  // read again: continuity was lost, so nothing of the old WAL is assumed
  copiedFrames_ = 0;
  indexHasSegments_ = false;
  unsynced_.clear();  // the old generation's segments are no longer needed
  // The directory before the pointer to it: a crash between the two leaves an unused directory
  // (removed with the other old generations), never a current generation that is missing.
  shadow_.createDirs(shadow_.generationDir(generation_));
  // A promoted database's first generation records where it came from (docs/promotion.md §2),
  // in its directory before the pointer to it; the record is removed only after the pointer,
  // so that a crash in between starts one more generation that takes it over again.
  const std::string promoted = promotedRecordPath(path_);
  std::optional<PromotionRecord> lineage = loadPromotionRecord(promoted);
  if (lineage && lineage->dbFile && stampFile(path_) != lineage->dbFile) {
    // Written and checkpointed since the promotion: 0:0 of the new generation is not the state
    // at the promoted position, so no replica may continue into it (docs/promotion.md §3).
    log::info(path_ +
              " was changed since its promotion; replicas of the old primary will take "
              "a snapshot");
    lineage->dbFile.reset();
  }
  if (lineage) {
    savePromotionRecord(shadow_.fileSystem(), shadow_.lineagePath(generation_), *lineage);
  }
  shadow_.writeGeneration(generation_);
  metrics_.generationsStarted.fetch_add(1);
  log::info(path_ + ": starting generation " + formatHex16(generation_) + ": " + reason);
  if (lineage) {
    shadow_.fileSystem().unlink(promoted);
    shadow_.fileSystem().fsyncDir(shadow_.root());
    log::info(path_ + ": generation " + formatHex16(generation_) + " continues " +
              lineage->position.str() + ", where this database was promoted from a replica");
  }
  if (out) out->newGenerationReason = reason;
}

WalIndexHeader WalCapture::readIndexHeader() {
  // A concurrent writer publishes the two header copies within microseconds; a header that
  // stays invalid means recovery is needed, which a read on a SQLite connection performs.
  for (int attempt = 0; attempt < 200; ++attempt) {
    if (auto h = readWalIndexHeader(shm_.data())) {
      if (h->version != kWalVersion) {
        throw Error(shmPath_ + ": unsupported wal-index version " + std::to_string(h->version));
      }
      return *h;
    }
    if (attempt == 100) checkpointer_->queryInt("SELECT count(*) FROM sqlite_master");
    if (attempt < 10) {
      sched_yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(50 * attempt));
    }
  }
  throw Error(shmPath_ + ": the wal-index header stays invalid");
}

std::optional<WalHeader> WalCapture::readWalHeader() {
  uint8_t b[kWalHeaderSize];
  if (preadFull(walFd_.get(), b, sizeof b, 0, walPath_) != sizeof b) return std::nullopt;
  return WalHeader::decode(b);
}

void WalCapture::beginPin(int which) {
  SqliteConnection& c = *pins_[which];
  c.exec("BEGIN");
  try {
    c.queryInt("SELECT count(*) FROM sqlite_master");  // starts the read transaction
  } catch (...) {
    c.exec("ROLLBACK");
    throw;
  }
  pinned_ = which;
}

void WalCapture::movePin() {
  if (options_.beforeMovePin) options_.beforeMovePin();
  const int old = pinned_;
  beginPin(1 - old);  // the new pin exists before the old one ends
  // Its mark is at most the mxFrame published now. A writer publishes the two header copies
  // within microseconds; should they stay torn, the old pin stays.
  std::optional<WalIndexHeader> h;
  for (int attempt = 0; attempt < 1000 && !h; ++attempt) {
    h = readWalIndexHeader(shm_.data());
    if (!h) sched_yield();
  }
  if (!h) {
    pins_[1 - old]->exec("ROLLBACK");
    pinned_ = old;
    return;
  }
  setPinMark(*h);
  pins_[old]->exec("COMMIT");
}

void WalCapture::setPinMark(const WalIndexHeader& h) {
  std::lock_guard lock(pinMarkMu_);
  pinMark_ = {h.salt1(), h.salt2(), h.mxFrame};
}

bool WalCapture::pinMarkCopied() const {
  std::lock_guard lock(pinMarkMu_);
  if (pinMark_.frames == 0) return true;  // nothing can be backfilled while it holds
  return chain_ && chain_->salt1 == pinMark_.salt1 && chain_->salt2 == pinMark_.salt2 &&
         copiedFrames_ >= pinMark_.frames;
}

bool WalCapture::pinInOtherWal() const {
  std::lock_guard lock(pinMarkMu_);
  return pinMark_.frames != 0 &&
         !(chain_ && chain_->salt1 == pinMark_.salt1 && chain_->salt2 == pinMark_.salt2);
}

void WalCapture::copyCommitted(CaptureSync& out) {
  WalIndexHeader h = readIndexHeader();
  if (h.mxFrame == 0) return;  // empty, or restarted and no frame written yet
  const std::optional<WalHeader> wh = walHeaderMatching(h);
  if (!wh) return;  // restarted meanwhile, and no frame written yet
  if (wh->version != kWalVersion) {
    throw Error(walPath_ + ": unsupported WAL format version " + std::to_string(wh->version));
  }
  startChainOrFollowRestart(*wh, out);
  if (h.mxFrame < copiedFrames_) {
    throw ContinuityError("the WAL's last commit (frame " + std::to_string(h.mxFrame) +
                          ") is before the copied frame " + std::to_string(copiedFrames_));
  }
  if (h.mxFrame == copiedFrames_) {
    if (chain_->checksum != h.frameChecksum && copiedFrames_ > 0) {
      throw ContinuityError("the wal-index checksum differs from the copied chain at frame " +
                            std::to_string(copiedFrames_));
    }
    return;
  }
  copyFrames(h, out);
}

std::optional<WalHeader> WalCapture::walHeaderMatching(WalIndexHeader& h) {
  // A header is rewritten only by a restart, which publishes new salts in the wal-index first
  // (docs/sqlite-wal.md §4.4): while the wal-index shows the salts of the header read last, that
  // is still the header on disk, and it is not read again for every sync.
  if (walHeader_ && h.salt1() == walHeader_->salt1 && h.salt2() == walHeader_->salt2) {
    return walHeader_;
  }
  // Around a restart the wal-index salts change before the WAL header is written; the header
  // is on disk before any frame of the new WAL is published, so this settles at once.
  for (int attempt = 0;; ++attempt) {
    std::optional<WalHeader> wh = readWalHeader();
    if (wh && wh->salt1 == h.salt1() && wh->salt2 == h.salt2()) {
      walHeader_ = wh;
      return wh;
    }
    if (attempt == 100) {
      throw Error(walPath_ + ": the WAL header does not match the wal-index salts " +
                  hexSalts(h.salt1(), h.salt2()));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
    h = readIndexHeader();
    if (h.mxFrame == 0) return std::nullopt;
  }
}

// Afterwards chain_ is the chain of the WAL `wh` heads, at copiedFrames_ of it.
void WalCapture::startChainOrFollowRestart(const WalHeader& wh, CaptureSync& out) {
  if (chain_ && wh.pageSize != chain_->pageSize) {
    throw ContinuityError("the page size changed from " + std::to_string(chain_->pageSize) +
                          " to " + std::to_string(wh.pageSize));
  }
  if (chain_ && (chain_->salt1 != wh.salt1 || chain_->salt2 != wh.salt2)) {
    if (indexHasSegments_) {
      // New salts while pinned: a restart that, by the pin protocol, lost no uncopied frame.
      // Without a pin nothing proves it: frames may have been lost with the old WAL.
      if (pinned_ < 0) {
        throw ContinuityError("the WAL was restarted while capture did not pin it (salts " +
                              hexSalts(wh.salt1, wh.salt2) + ")");
      }
      makeSegmentsDurable();
      ++index_;
      indexHasSegments_ = false;
      out.walRestarted = true;
      metrics_.walRestarts.fetch_add(1);
    }
    chain_.reset();
  }
  if (!chain_) {
    chain_ = WalChainState::fromHeader(wh);
    copiedFrames_ = 0;
    pageSize_ = wh.pageSize;
  }
}

// WAL bytes from frame copiedFrames_ + 1 on, each frame checked against the running chain as it
// is appended, cut into segments at commit frames. Capture's copy state (copiedFrames_, chain_)
// advances only when a segment is cut: it always names a commit frame whose bytes are in a
// segment, so a failure part way leaves capture at the end of the last whole segment.
class WalCapture::SegmentBuilder {
 public:
  SegmentBuilder(WalCapture& capture, CaptureSync& out);
  // Appends frame number `f` (its header and page), refusing one that breaks the chain.
  void append(const uint8_t* frame, uint32_t f);
  // After the last frame the wal-index `h` publishes: checks that the frames end where `h` says
  // and cuts the last segment.
  void finish(const WalIndexHeader& h);

 private:
  // Only right after a commit frame: running_ is then the chain at committedFrame_.
  void cut();

  WalCapture& c_;
  CaptureSync& out_;
  std::string& segment_;       // WAL bytes of the segment being built (c_.segmentBuffer_)
  uint64_t segmentStart_;      // WAL offset of segment_'s first byte
  WalChainState running_;      // the chain after the last frame appended
  size_t committedBytes_ = 0;  // bytes of `segment_` up to its last commit frame
  uint32_t committedFrame_;
};

WalCapture::SegmentBuilder::SegmentBuilder(WalCapture& capture, CaptureSync& out)
    : c_(capture),
      out_(out),
      segment_(capture.segmentBuffer_),
      segmentStart_(capture.copiedFrames_ == 0
                        ? 0
                        : walFrameOffset(capture.copiedFrames_ + 1, capture.pageSize_)),
      running_(*capture.chain_),
      committedFrame_(capture.copiedFrames_) {
  segment_.clear();
  if (c_.copiedFrames_ == 0) {
    uint8_t hdr[kWalHeaderSize];
    preadFull(c_.walFd_.get(), hdr, sizeof hdr, 0, c_.walPath_);
    segment_.assign(reinterpret_cast<const char*>(hdr), sizeof hdr);
  }
  committedBytes_ = segment_.size();
}

void WalCapture::SegmentBuilder::append(const uint8_t* frame, uint32_t f) {
  const WalFrameHeader fh = WalFrameHeader::decode(frame);
  const uint64_t at = walFrameOffset(f, c_.pageSize_);
  if (const char* broken = continueWalChain(running_, frame, fh)) {
    throw ContinuityError(std::string(broken) + " at WAL offset " + std::to_string(at));
  }
  // SQLite never writes page 0: such a frame is damage, refused as a wrong checksum is.
  if (fh.pageNumber == 0) {
    throw ContinuityError("frame checksum mismatch at WAL offset " + std::to_string(at));
  }
  segment_.append(reinterpret_cast<const char*>(frame), c_.pageSize_ + kWalFrameHeaderSize);
  if (fh.isCommit()) {
    committedBytes_ = segment_.size();
    committedFrame_ = f;
    if (segment_.size() >= kSegmentTargetBytes) cut();
  }
}

void WalCapture::SegmentBuilder::finish(const WalIndexHeader& h) {
  if (committedFrame_ != h.mxFrame) {
    throw Error(c_.walPath_ + ": frame " + std::to_string(h.mxFrame) +
                " (the wal-index's last commit) is not a commit frame");
  }
  if (running_.checksum != h.frameChecksum) {
    throw ContinuityError("the WAL's checksum at frame " + std::to_string(h.mxFrame) +
                          " differs from the wal-index's");
  }
  if (committedBytes_ > 0) cut();
}

void WalCapture::SegmentBuilder::cut() {
  const uint64_t rawSize = committedBytes_;
  std::string compressed =
      lz4Compress(std::span(reinterpret_cast<const uint8_t*>(segment_.data()), committedBytes_));
  segment_.erase(0, committedBytes_);
  SegmentInfo info = ShadowWal::newSegment({c_.generation_, c_.index_, segmentStart_},
                                           std::move(compressed), rawSize);
  c_.metrics_.walBytesCopied.fetch_add(rawSize);
  segmentStart_ += rawSize;
  committedBytes_ = 0;
  c_.copiedFrames_ = committedFrame_;
  c_.chain_->checksum = running_.checksum;
  c_.indexHasSegments_ = true;
  if (c_.unwritten_.empty()) c_.firstUnwrittenAt_ = std::chrono::steady_clock::now();
  c_.unwrittenBytes_ += info.size;
  c_.unwritten_.push_back(info);
  // A large backlog is written as it is copied, so memory stays bounded.
  if (c_.unwrittenBytes_ >= kMaxUnwrittenBytes) c_.writeSegmentFiles();
  out_.segments.push_back(std::move(info));
}

// Frames (copiedFrames_, h.mxFrame], read in batches of about kReadBatchBytes.
void WalCapture::copyFrames(const WalIndexHeader& h, CaptureSync& out) {
  const uint32_t P = pageSize_;
  const size_t frameSize = P + kWalFrameHeaderSize;
  SegmentBuilder segment(*this, out);
  std::string& batch = readBuffer_;
  for (uint32_t f = copiedFrames_ + 1; f <= h.mxFrame;) {
    const uint32_t n =
        std::min<uint32_t>(h.mxFrame - f + 1, std::max<size_t>(1, kReadBatchBytes / frameSize));
    const size_t want = size_t{n} * frameSize;
    if (batch.size() < want) batch.resize(want);  // kept between syncs: no zero-fill each time
    const uint64_t off = walFrameOffset(f, P);
    if (preadFull(walFd_.get(), batch.data(), want, off, walPath_) != want) {
      throw Error(walPath_ + ": the WAL ends before frame " + std::to_string(h.mxFrame) +
                  " (offset " + std::to_string(walFrameOffset(h.mxFrame + 1, P)) + ")");
    }
    for (uint32_t i = 0; i < n; ++i, ++f) {
      segment.append(reinterpret_cast<const uint8_t*>(batch.data()) + size_t{i} * frameSize, f);
    }
  }
  segment.finish(h);
  // Buffers of a large copy are not kept: memory stays flat (a few small syncs reuse them).
  if (batch.capacity() > kKeptBufferBytes) batch = std::string();
  if (segmentBuffer_.capacity() > kKeptBufferBytes) segmentBuffer_ = std::string();
}

bool WalCapture::commitPending() const {
  const std::optional<WalIndexHeader> h = readWalIndexHeader(shm_.data());
  if (!h) return true;  // being written right now
  // A restart publishes the new salts with no frame (mxFrame 0) before the first transaction
  // of the new WAL is written: nothing to copy yet.
  if (!chain_ || h->salt1() != chain_->salt1 || h->salt2() != chain_->salt2) {
    return h->mxFrame != 0;
  }
  return h->mxFrame != copiedFrames_;
}

bool WalCapture::framesBeyondCopy() const {
  uint8_t b[kWalFrameHeaderSize];
  if (chain_) {
    const uint64_t off = walFrameOffset(copiedFrames_ + 1, pageSize_);
    if (preadFull(walFd_.get(), b, sizeof b, off, walPath_) == sizeof b) {
      const WalFrameHeader f = WalFrameHeader::decode(b);
      if (f.salt1 == chain_->salt1 && f.salt2 == chain_->salt2) return true;
    }
  }
  // A WAL started since: a header with other salts, and a first frame that carries them. Without
  // this the first commit into a new WAL waited for the next write or the poll interval (1 s).
  // A restart publishes its new salts in the wal-index before it writes the WAL header: while
  // the wal-index shows the chain's salts, no WAL was started since, and the header is not read.
  if (chain_) {
    const std::optional<WalIndexHeader> ih = readWalIndexHeader(shm_.data());
    if (ih && ih->salt1() == chain_->salt1 && ih->salt2() == chain_->salt2) return false;
  }
  uint8_t h[kWalHeaderSize];
  if (preadFull(walFd_.get(), h, sizeof h, 0, walPath_) != sizeof h) return false;
  const std::optional<WalHeader> wh = WalHeader::decode(h);
  if (!wh || (chain_ && wh->salt1 == chain_->salt1 && wh->salt2 == chain_->salt2)) return false;
  if (preadFull(walFd_.get(), b, sizeof b, walFrameOffset(1, wh->pageSize), walPath_) != sizeof b) {
    return false;
  }
  const WalFrameHeader f = WalFrameHeader::decode(b);
  return f.salt1 == wh->salt1 && f.salt2 == wh->salt2;
}

void WalCapture::prepareNextSegment() {
  if (spare_.fd.valid()) return;
  spare_ = pool_.take();
  if (pool_.refillWanted()) worker_->refillPool();
}

void WalCapture::writeSegmentFiles() {
  if (unwritten_.empty()) return;
  // unwritten_ holds segments of the current index only (see startGeneration and the restart
  // in startChainOrFollowRestart), back to back: one file.
  if (!spare_.fd.valid()) spare_ = pool_.take();
  shadow_.storeSegments(unwritten_, &spare_);
  metrics_.segmentsWritten.fetch_add(unwritten_.size());
  unsynced_.push_back(unwritten_.front().pos);
  unwritten_.clear();
  unwrittenBytes_ = 0;
  if (unsynced_.size() >= kMaxUnsyncedSegments) makeSegmentsDurable();
}

bool WalCapture::writeDue(std::chrono::steady_clock::time_point now) const {
  return !unwritten_.empty() && now >= firstUnwrittenAt_ + kFileBatchDelay;
}

std::optional<std::chrono::steady_clock::time_point> WalCapture::writeDeadline() const {
  if (unwritten_.empty()) return std::nullopt;
  return firstUnwrittenAt_ + kFileBatchDelay;
}

Pos WalCapture::writtenEnd() const {
  return unwritten_.empty() ? endPosition() : unwritten_.front().pos;
}

void WalCapture::makeSegmentsDurable() {
  writeSegmentFiles();
  if (unsynced_.empty()) return;
  shadow_.makeDurable(unsynced_);
  unsynced_.clear();
}

void WalCapture::copyOrStartGeneration(CaptureSync& out) {
  try {
    copyCommitted(out);
  } catch (const ContinuityError& e) {
    // Segments already written stay valid for the old generation; the new one starts with the
    // WAL as it is now, from its header.
    startGeneration(e.what(), &out);
    copyCommitted(out);
  }
}

CaptureSync WalCapture::copyNew() {
  CaptureSync out;
  copyOrStartGeneration(out);
  // The pin is not moved here, only before a checkpoint (maybeCheckpoint): any pin holds a
  // read mark, so the WAL cannot restart whatever its value, and a pin left behind keeps the
  // application's own autocheckpoint (PASSIVE, run on every commit once the WAL holds 1000
  // pages) from finding new frames to backfill, each time with two fsyncs.
  out.end = endPosition();
  return out;
}

CaptureSync WalCapture::checkpointIfDue() {
  CaptureSync out;
  maybeCheckpoint(out);
  out.end = endPosition();
  return out;
}

void WalCapture::maybeCheckpoint(CaptureSync& out) {
  if (worker_->busy()) return;          // the slow half is running; capture goes on meanwhile
  worker_->rethrowFailure(&unsynced_);  // the destructor then retries their fsync
  const uint32_t frames = readIndexHeader().mxFrame;
  if (frames == 0) return;
  const auto now = std::chrono::steady_clock::now();
  CheckpointMode mode;
  if (frames >= options_.maxCheckpointPages) {
    mode = CheckpointMode::kWaitForReaders;
  } else if (frames >= options_.minCheckpointPages ||
             now - lastCheckpoint_ >= options_.checkpointInterval) {
    mode = CheckpointMode::kPassive;
  } else {
    return;
  }
  // Against a writer faster than the worker's passes, "little left" may never come: after a
  // few passes the hand-off goes ahead with what is left, rather than let the WAL grow.
  const bool littleLeft =
      unsynced_.size() <= kMaxHandOffSegments && frames <= backfillTarget_ + kMaxHandOffFrames;
  if (!pinInOtherWal() &&
      (workerPasses_ == 0 || (!littleLeft && workerPasses_ < kMaxWorkerPasses))) {
    // The worker's new pin must not let the backfill (hence a restart) pass a frame that is
    // not in the segments it makes durable: the current pin's mark bounds what may have been
    // backfilled, and a pin begun by the previous job may be ahead of the copy.
    if (!pinMarkCopied()) return;  // a later sync copies that far first
    // The slow half first, on the worker; the hand-off follows at a later sync.
    writeSegmentFiles();  // the worker makes them durable
    // The worker moves the pin once the segments are durable, and its checkpoint can then
    // backfill up to the new pin's mark. Moved earlier, a pin begun while every frame is
    // backfilled would land on READ_LOCK(0) and let the WAL restart before the segments were
    // durable: a power failure then would lose captured frames that the WAL no longer holds.
    // (Such a pin sees no frame past the old pin's mark, and every frame up to that mark was
    // copied before this job started, as pinMarkCopied() just said: all of them are in the
    // segments the job makes durable.)
    // Meanwhile the capture thread keeps copying but does not touch the pins.
    backfillTarget_ = frames;
    worker_->start(std::exchange(unsynced_, {}), [this] { movePin(); });
    ++workerPasses_;
    return;
  }
  workerPasses_ = 0;
  lastCheckpoint_ = now;
  handOff(mode, out);
}

bool WalCapture::handOff(CheckpointMode mode, CaptureSync& out) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const auto idx = static_cast<size_t>(mode);
  auto account = [&] {
    metrics_.checkpointMicros[idx].fetch_add(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t0).count()));
  };
  // The bulk of the backfill ran on the worker (PASSIVE, while pinned, blocking no writer). Not
  // FULL, even past the maximum: FULL holds the write lock while it waits for every reader,
  // our own pin included, so it could only time out with the application's writers blocked.
  metrics_.checkpoints[idx].fetch_add(1);
  // The worker made the older segments durable; the few written since follow here, outside
  // the write lock, and those copied under it below.
  makeSegmentsDurable();
  if (!lockForHandOff(mode)) {
    account();
    return false;
  }
  const auto locked = Clock::now();
  HandOffSteps steps;
  bool restartable = false;
  try {
    restartable = handOffLocked(mode, out, steps);
  } catch (...) {
    writer_->exec("ROLLBACK");
    throw;
  }
  writer_->exec("ROLLBACK");
  account();
  steps.held = Clock::now() - locked;
  reportLongHold(steps);
  return restartable;
}

bool WalCapture::lockForHandOff(CheckpointMode mode) {
  if (deferForCopy(mode)) return false;
  if (options_.beforeHandOffLock) options_.beforeHandOffLock();
  // Below the maximum the hand-off only takes the write lock when it is free within a short
  // wait; past it, it waits as long as the busy timeout allows.
  writer_->setPollingBusyTimeout(kLockPollInterval, mode == CheckpointMode::kWaitForReaders
                                                        ? options_.busyTimeout
                                                        : kHandOffLockWait);
  try {
    writer_->exec("BEGIN IMMEDIATE");
  } catch (const Error&) {
    return false;  // the application is writing; try again at a later sync
  }
  // What the application committed while we waited for the lock counts too.
  if (deferForCopy(mode)) {
    writer_->exec("ROLLBACK");
    return false;
  }
  return true;
}

bool WalCapture::handOffLocked(CheckpointMode mode, CaptureSync& out, HandOffSteps& steps) {
  using Clock = std::chrono::steady_clock;
  auto stepDone = [last = Clock::now()](Clock::duration& step) mutable {
    const auto now = Clock::now();
    step = now - last;
    last = now;
  };
  copyCommitted(out);  // the header is stable while we hold the write lock
  stepDone(steps.copy);
  const WalIndexHeader h = readIndexHeader();
  if (h.mxFrame != copiedFrames_) return false;
  // The writer connection's own read transaction pins the WAL while the pin is released.
  const int old = pinned_;
  makeSegmentsDurable();  // from here on the WAL may restart
  stepDone(steps.sync);
  pins_[old]->exec("COMMIT");
  pinned_ = -1;
  // Past the maximum, wait (bounded) for the application's readers to leave the frames still
  // to backfill, as a FULL checkpoint would: the application's writers wait too. Not while a
  // snapshot of ours is being sent: its read transaction holds the backfill back until the
  // client has the whole image, however long its link takes, so waiting would only stall the
  // application's writers, once per sync.
  const bool waitForReaders =
      mode == CheckpointMode::kWaitForReaders && metrics_.snapshotsOpen.load() == 0;
  const auto deadline = Clock::now() + (waitForReaders ? std::min<std::chrono::milliseconds>(
                                                             options_.busyTimeout, kMaxReaderWait)
                                                       : std::chrono::milliseconds(0));
  bool restartable = false;
  for (;;) {
    checkpointer_->checkpoint(SQLITE_CHECKPOINT_PASSIVE);
    restartable = shmBackfill(shm_.data()) == h.mxFrame;
    if (restartable || Clock::now() >= deadline) break;
    std::this_thread::sleep_for(kLockPollInterval * 20);
  }
  stepDone(steps.backfill);
  beginPin(old);  // on READ_LOCK(0) exactly when everything was backfilled
  setPinMark(h);  // the header cannot change under the write lock
  return restartable;
}

uint64_t WalCapture::uncopiedBytes() {
  const WalIndexHeader h = readIndexHeader();
  const uint64_t frameBytes = uint64_t{pageSize_} + kWalFrameHeaderSize;
  // A WAL restarted by the application after the last hand-off holds none of the copied frames.
  const bool sameWal = chain_ && h.salt1() == chain_->salt1 && h.salt2() == chain_->salt2;
  const uint32_t copied = sameWal ? std::min(copiedFrames_, h.mxFrame) : 0;
  return uint64_t{h.mxFrame - copied} * frameBytes;
}

bool WalCapture::deferForCopy(CheckpointMode mode) {
  const uint64_t behind = uncopiedBytes();
  if (behind <= kMaxHandOffCopyBytes) return false;
  metrics_.handOffsDeferred.fetch_add(1);
  const auto now = std::chrono::steady_clock::now();
  if (mode == CheckpointMode::kWaitForReaders &&
      (lastBehindReport_ == std::chrono::steady_clock::time_point{} ||
       now - lastBehindReport_ >= kBehindReportInterval)) {
    lastBehindReport_ = now;
    log::warn(path_ + ": the WAL is past --max-checkpoint-pages, but capture is " +
              std::to_string(behind >> 20) +
              " MiB behind the application's writes; the WAL restarts once capture has caught "
              "up (the application is writing faster than walstream copies)");
  }
  return true;
}

void WalCapture::reportLongHold(const HandOffSteps& steps) {
  // The application's writers wait for as long as the hand-off holds their lock; an
  // application with a busy timeout of a few seconds starts failing well before a hold that
  // long, so a person reading the log must be able to tell which step took the time.
  if (steps.held < kLongHold) return;
  auto ms = [](std::chrono::steady_clock::duration d) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  };
  log::warn(path_ + ": a checkpoint held the application's write lock for " + ms(steps.held) +
            " ms (copying new frames " + ms(steps.copy) + " ms, syncing their segments " +
            ms(steps.sync) + " ms, backfilling " + ms(steps.backfill) + " ms)");
}

}  // namespace walstream
