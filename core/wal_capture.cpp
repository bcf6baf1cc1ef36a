#include "core/wal_capture.h"

#include <fcntl.h>
#include <sched.h>
#include <sqlite3.h>

#include <cstring>
#include <random>
#include <thread>

#include "core/database.h"
#include "core/error.h"
#include "core/log.h"
#include "core/lz4_codec.h"

namespace walstream {

namespace {

// Segments are cut at the first commit boundary past this many WAL bytes, so a reader never
// has to hold much more than this in memory for one segment (a single larger transaction still
// makes one larger segment: segments never split a transaction).
constexpr size_t kSegmentTargetBytes = 4 << 20;

// Frames are read from the -wal in batches of about this size.
constexpr size_t kReadBatchBytes = 4 << 20;

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
};

WalCapture::WalCapture(const std::string& path, const CaptureOptions& options,
                       const ShadowWal& shadow, CaptureMetrics& metrics, int dbFd)
    : path_(path),
      walPath_(path + "-wal"),
      shmPath_(path + "-shm"),
      options_(options),
      shadow_(shadow),
      metrics_(metrics),
      dbFd_(dbFd) {}

WalCapture::~WalCapture() {
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
  beginPin(0);  // from here on the WAL is pinned; it also creates -wal and -shm if missing

  walFd_ = openFile(walPath_, O_RDONLY);
  shmFd_ = openFile(shmPath_, O_RDONLY);
  if (fileSize(shmFd_.get(), shmPath_) < kShmBlockSize) {
    throw Error(shmPath_ + " is smaller than one wal-index block; is " + path_ +
                " opened with locking_mode=EXCLUSIVE?");
  }
  shm_ = ShmMapping(shmFd_.get(), 0, kShmBlockSize, /*writable=*/false, shmPath_);
  lastCheckpoint_ = std::chrono::steady_clock::now();

  CaptureStart start;
  std::string why;
  std::optional<Tail> tail = readShadowTail();
  const WalIndexHeader h = readIndexHeader();
  const std::optional<WalHeader> wh = readWalHeader();
  if (!tail) {
    why = "no usable shadow WAL";
  } else if (!wh) {
    why = "the WAL file has no valid header";
  } else if (wh->pageSize != tail->chain.pageSize) {
    why = "the page size changed";
  } else if (wh->salt1 != tail->chain.salt1 || wh->salt2 != tail->chain.salt2 ||
             h.salt1() != wh->salt1 || h.salt2() != wh->salt2) {
    why = "the WAL was restarted or replaced while walstream was not running (salts " +
          hexSalts(wh->salt1, wh->salt2) + ", shadow has " +
          hexSalts(tail->chain.salt1, tail->chain.salt2) + ")";
  } else if (tail->frames > h.mxFrame) {
    why = "the WAL holds fewer committed frames (" + std::to_string(h.mxFrame) +
          ") than the shadow WAL (" + std::to_string(tail->frames) + ")";
  } else if (tail->frames > 0) {
    uint8_t fh[kWalFrameHeaderSize];
    const uint64_t off = walFrameOffset(tail->frames, wh->pageSize);
    if (preadFull(walFd_.get(), fh, sizeof fh, off, walPath_) != sizeof fh) {
      why = "the WAL is shorter than the shadow WAL";
    } else {
      WalFrameHeader f = WalFrameHeader::decode(fh);
      if (f.checksum != tail->chain.checksum || f.salt1 != wh->salt1 || f.salt2 != wh->salt2) {
        why = "the WAL frame at offset " + std::to_string(off) + " differs from the shadow WAL";
      }
    }
  } else if (wh->checksum != tail->chain.checksum) {
    why = "the WAL header differs from the shadow WAL";
  }
  if (why.empty()) {
    generation_ = tail->generation;
    index_ = tail->index;
    pageSize_ = tail->chain.pageSize;
    chain_ = tail->chain;
    copiedFrames_ = tail->frames;
    indexHasSegments_ = true;
  } else {
    startGeneration(why, &start.catchUp);
  }
  if (pageSize_ == 0) {
    pageSize_ = static_cast<uint32_t>(checkpointer_->queryInt("PRAGMA page_size"));
  }
  start.pageSize = pageSize_;
  writer_->exec("BEGIN IMMEDIATE");  // busy: the caller retries open() later
  try {
    copyOrStartGeneration(start.catchUp);
    movePin();
  } catch (...) {
    writer_->exec("ROLLBACK");
    throw;
  }
  writer_->exec("ROLLBACK");
  // The hand-off blocks the application's writers: later, wait for the write lock only briefly.
  writer_->setBusyTimeout(std::min(busyMs, 100));
  start.catchUp.end = endPosition();
  if (start.catchUp.newGenerationReason) {
    start.newGeneration = true;
    start.reason = *start.catchUp.newGenerationReason;
  }
  return start;
}

std::optional<WalCapture::Tail> WalCapture::readShadowTail() {
  std::optional<uint64_t> gen = shadow_.readGeneration();
  if (!gen) return std::nullopt;
  std::vector<uint64_t> indexes = shadow_.listIndexes(*gen);
  if (indexes.empty()) return std::nullopt;
  const uint64_t index = indexes.back();
  std::vector<SegmentInfo> segs = shadow_.listSegments(*gen, index);
  if (segs.empty() || segs.front().pos.offset != 0) return std::nullopt;
  try {
    // The WAL header comes from the index's first segment; the chain's checksum is the one
    // stored in the last frame of the last segment.
    std::string first = lz4Decompress(asBytes(shadow_.readSegment(segs.front().pos)), 1ull << 32);
    WalChainState state;
    parseWalSegment(asBytes(first), 0, state);
    uint64_t end = segs.front().pos.offset + first.size();
    if (segs.size() > 1) {
      const Pos lastPos = segs.back().pos;
      std::string last = lz4Decompress(asBytes(shadow_.readSegment(lastPos)), 1ull << 32);
      const size_t frameSize = state.pageSize + kWalFrameHeaderSize;
      if (last.empty() || last.size() % frameSize != 0) return std::nullopt;
      WalFrameHeader f = WalFrameHeader::decode(reinterpret_cast<const uint8_t*>(last.data()) +
                                                last.size() - frameSize);
      if (!f.isCommit() || f.salt1 != state.salt1 || f.salt2 != state.salt2) return std::nullopt;
      state.checksum = f.checksum;
      end = lastPos.offset + last.size();
    }
    Tail t;
    t.generation = *gen;
    t.index = index;
    t.chain = state;
    t.frames =
        static_cast<uint32_t>((end - kWalHeaderSize) / (state.pageSize + kWalFrameHeaderSize));
    return t;
  } catch (const Error& e) {
    log::warn(path_ + ": cannot read the shadow WAL tail: " + e.what());
    return std::nullopt;
  }
}

Pos WalCapture::endPosition() const {
  return {generation_, index_,
          copiedFrames_ == 0 ? 0 : walFrameOffset(copiedFrames_ + 1, pageSize_)};
}

void WalCapture::startGeneration(const std::string& reason, CaptureSync* out) {
  generation_ = newGenerationId();
  index_ = 0;
  chain_.reset();
  copiedFrames_ = 0;
  indexHasSegments_ = false;
  shadow_.writeGeneration(generation_);
  makeDirs(shadow_.generationDir(generation_));
  metrics_.generationsStarted.fetch_add(1);
  log::info(path_ + ": starting generation " + formatHex16(generation_) + ": " + reason);
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
  const int old = pinned_;
  beginPin(1 - old);  // the new pin exists before the old one ends
  pins_[old]->exec("COMMIT");
}

void WalCapture::copyCommitted(CaptureSync& out) {
  WalIndexHeader h = readIndexHeader();
  if (h.mxFrame == 0) return;  // empty, or restarted and no frame written yet
  std::optional<WalHeader> wh;
  // Around a restart the wal-index salts change before the WAL header is written; the header
  // is on disk before any frame of the new WAL is published, so this settles at once.
  for (int attempt = 0;; ++attempt) {
    wh = readWalHeader();
    if (wh && wh->salt1 == h.salt1() && wh->salt2 == h.salt2()) break;
    if (attempt == 100) {
      throw Error(walPath_ + ": the WAL header does not match the wal-index salts " +
                  hexSalts(h.salt1(), h.salt2()));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(100));
    h = readIndexHeader();
    if (h.mxFrame == 0) return;
  }
  if (wh->version != kWalVersion) {
    throw Error(walPath_ + ": unsupported WAL format version " + std::to_string(wh->version));
  }
  if (chain_ && wh->pageSize != chain_->pageSize) {
    throw ContinuityError("the page size changed from " + std::to_string(chain_->pageSize) +
                          " to " + std::to_string(wh->pageSize));
  }
  if (chain_ && (chain_->salt1 != wh->salt1 || chain_->salt2 != wh->salt2)) {
    if (indexHasSegments_) {
      // New salts while pinned: a restart that, by the pin protocol, lost no uncopied frame.
      ++index_;
      indexHasSegments_ = false;
      out.walRestarted = true;
      metrics_.walRestarts.fetch_add(1);
    }
    chain_.reset();
  }
  if (!chain_) {
    chain_ = WalChainState::fromHeader(*wh);
    copiedFrames_ = 0;
    pageSize_ = wh->pageSize;
  }
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

  const uint32_t P = pageSize_;
  const size_t frameSize = P + kWalFrameHeaderSize;
  std::string segment;  // WAL bytes of the segment being built
  uint64_t segmentStart = copiedFrames_ == 0 ? 0 : walFrameOffset(copiedFrames_ + 1, P);
  if (copiedFrames_ == 0) {
    uint8_t hdr[kWalHeaderSize];
    preadFull(walFd_.get(), hdr, sizeof hdr, 0, walPath_);
    segment.assign(reinterpret_cast<const char*>(hdr), sizeof hdr);
  }
  WalChainState running = *chain_;
  size_t committedBytes = segment.size();  // bytes of `segment` up to its last commit frame
  uint32_t committedFrame = copiedFrames_;

  auto flush = [&] {
    std::string bytes = segment.substr(0, committedBytes);
    segment.erase(0, committedBytes);
    const uint64_t rawSize = bytes.size();
    SegmentInfo info = shadow_.writeSegment({generation_, index_, segmentStart},
                                            lz4Compress(asBytes(bytes)), rawSize);
    metrics_.walBytesCopied.fetch_add(rawSize);
    metrics_.segmentsWritten.fetch_add(1);
    segmentStart += rawSize;
    committedBytes = 0;
    copiedFrames_ = committedFrame;
    chain_->checksum = running.checksum;
    indexHasSegments_ = true;
    out.segments.push_back(std::move(info));
  };

  std::string batch;
  for (uint32_t f = copiedFrames_ + 1; f <= h.mxFrame;) {
    const uint32_t n =
        std::min<uint32_t>(h.mxFrame - f + 1, std::max<size_t>(1, kReadBatchBytes / frameSize));
    batch.resize(size_t{n} * frameSize);
    const uint64_t off = walFrameOffset(f, P);
    if (preadFull(walFd_.get(), batch.data(), batch.size(), off, walPath_) != batch.size()) {
      throw Error(walPath_ + ": the WAL ends before frame " + std::to_string(h.mxFrame) +
                  " (offset " + std::to_string(walFrameOffset(h.mxFrame + 1, P)) + ")");
    }
    for (uint32_t i = 0; i < n; ++i, ++f) {
      const auto* frame = reinterpret_cast<const uint8_t*>(batch.data()) + size_t{i} * frameSize;
      const WalFrameHeader fh = WalFrameHeader::decode(frame);
      const uint64_t at = walFrameOffset(f, P);
      if (fh.salt1 != running.salt1 || fh.salt2 != running.salt2) {
        throw ContinuityError("frame salt mismatch at WAL offset " + std::to_string(at));
      }
      Checksum c = walChecksum(frame, 8, running.bigEndianChecksum, running.checksum);
      c = walChecksum(frame + kWalFrameHeaderSize, P, running.bigEndianChecksum, c);
      if (c != fh.checksum || fh.pageNumber == 0) {
        throw ContinuityError("frame checksum mismatch at WAL offset " + std::to_string(at));
      }
      running.checksum = c;
      segment.append(reinterpret_cast<const char*>(frame), frameSize);
      if (fh.isCommit()) {
        committedBytes = segment.size();
        committedFrame = f;
        if (segment.size() >= kSegmentTargetBytes) flush();
      }
    }
  }
  if (committedFrame != h.mxFrame) {
    throw Error(walPath_ + ": frame " + std::to_string(h.mxFrame) +
                " (the wal-index's last commit) is not a commit frame");
  }
  if (running.checksum != h.frameChecksum) {
    throw ContinuityError("the WAL's checksum at frame " + std::to_string(h.mxFrame) +
                          " differs from the wal-index's");
  }
  if (committedBytes > 0) flush();
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

CaptureSync WalCapture::sync() {
  CaptureSync out;
  copyOrStartGeneration(out);
  movePin();
  maybeCheckpoint(out);
  out.end = endPosition();
  return out;
}

void WalCapture::maybeCheckpoint(CaptureSync& out) {
  const uint32_t frames = readIndexHeader().mxFrame;
  if (frames == 0) return;
  const auto now = std::chrono::steady_clock::now();
  CheckpointMode mode;
  if (frames >= options_.maxCheckpointPages) {
    mode = CheckpointMode::kFull;
  } else if (frames >= options_.minCheckpointPages ||
             now - lastCheckpoint_ >= options_.checkpointInterval) {
    mode = CheckpointMode::kPassive;
  } else {
    return;
  }
  lastCheckpoint_ = now;
  handOff(mode, out);
}

bool WalCapture::handOff(CheckpointMode mode, CaptureSync& out) {
  const auto t0 = std::chrono::steady_clock::now();
  // The bulk of the backfill, while pinned and without blocking the application's writers.
  // FULL waits (bounded by the busy timeout) for the application's readers and writers.
  checkpointer_->checkpoint(mode == CheckpointMode::kFull ? SQLITE_CHECKPOINT_FULL
                                                          : SQLITE_CHECKPOINT_PASSIVE);
  const auto idx = static_cast<size_t>(mode);
  metrics_.checkpoints[idx].fetch_add(1);
  bool restartable = false;
  try {
    writer_->exec("BEGIN IMMEDIATE");
  } catch (const Error&) {
    metrics_.checkpointMicros[idx].fetch_add(static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
            .count()));
    return false;  // the application is writing; try again at a later sync
  }
  try {
    copyCommitted(out);  // the header is stable while we hold the write lock
    const WalIndexHeader h = readIndexHeader();
    if (h.mxFrame == copiedFrames_) {
      // The writer connection's own read transaction pins the WAL while the pin is released.
      const int old = pinned_;
      pins_[old]->exec("COMMIT");
      pinned_ = -1;
      checkpointer_->checkpoint(SQLITE_CHECKPOINT_PASSIVE);
      restartable = shmBackfill(shm_.data()) == h.mxFrame;
      beginPin(old);  // on READ_LOCK(0) exactly when everything was backfilled
    }
  } catch (...) {
    writer_->exec("ROLLBACK");
    throw;
  }
  writer_->exec("ROLLBACK");
  metrics_.checkpointMicros[idx].fetch_add(static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - t0)
          .count()));
  return restartable;
}

}  // namespace walstream
