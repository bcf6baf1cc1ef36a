#include "client/replica_applier.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "core/byte_order.h"
#include "core/error.h"
#include "core/log.h"
#include "core/lz4_codec.h"
#include "core/pos.h"
#include "core/printable_text.h"
#include "core/promotion_record.h"
#include "core/sqlite_conn.h"

namespace walstream::client {

namespace {

// A snapshot needs this much free space beyond its own bytes on LOCAL_DB's file system: what
// SQLite, the position file and the logs of a full disk still need.
constexpr uint64_t kFreeSpaceReserve = uint64_t{64} << 20;

// Decompression scratch up to this size is kept for the replica's life; a larger one (catching
// up) is released after the first batch that needs no more, so that a live replica stays small.
// Batches larger than this get room for a whole lz4 block past their end, so that every block
// is decoded in place instead of through the context's own buffer and copied (a live replica's
// small segments take that copy; it bounds the context's touched buffer by this size too).
constexpr size_t kKeptScratchBytes = size_t{1} << 20;

// Checks a segment that continues a known chain (its salts and running checksum at `offset`).
// While the chain's checksum byte order is not known (orderKnown false), the segment is checked
// in both orders: a frame whose stored checksum matches in exactly one order settles it; if
// every frame matches in both (possible only for frames whose words read the same either way),
// both orders end in the same state, the frames' own last checksum, and the order stays open.
// A segment that matches in neither is refused, as one that breaks a known order's chain is.
ParsedWalSegment parseContinuing(std::span<const uint8_t> raw, uint64_t offset,
                                 WalChainState& chain, bool& orderKnown, uint32_t maxPageCount) {
  if (orderKnown) return parseWalSegment(raw, offset, chain, maxPageCount);
  WalChainState little = chain, big = chain;
  little.bigEndianChecksum = false;
  big.bigEndianChecksum = true;
  std::optional<ParsedWalSegment> asLittle, asBig;
  std::string failure;
  try {
    asLittle = parseWalSegment(raw, offset, little, maxPageCount);
  } catch (const Error& e) {
    failure = e.what();
  }
  try {
    asBig = parseWalSegment(raw, offset, big, maxPageCount);
  } catch (const Error&) {
  }
  if (asLittle && asBig) {
    chain = little;
    return std::move(*asLittle);
  }
  if (!asLittle && !asBig) throw Error(failure + " (in either checksum byte order)");
  orderKnown = true;
  chain = asLittle ? little : big;
  return std::move(asLittle ? *asLittle : *asBig);
}

// Checks the first segment after a snapshot taken in the middle of a WAL index, whose chain
// seed the replica does not know: the first frame's stored checksum anchors the chain, and
// every later frame is checked against it. Neither that frame nor the stream tells the WAL's
// checksum byte order (a WAL header does, at offset 0 only), so the later frames are checked
// in both (parseContinuing); a segment of one frame leaves the order open for the next one.
ParsedWalSegment parseAnchored(std::span<const uint8_t> raw, uint64_t offset, WalChainState& chain,
                               bool& orderKnown, uint32_t maxPageCount) {
  const size_t frameSize = chain.pageSize + kWalFrameHeaderSize;
  if (raw.size() < frameSize || raw.size() % frameSize != 0) {
    throw Error("segment at WAL offset " + std::to_string(offset) +
                " is not a whole number of frames of page size " + std::to_string(chain.pageSize));
  }
  const WalFrameHeader first = WalFrameHeader::decode(raw.data());
  // Its page number is checked with every other frame's (WalSegmentPrefixCheck).
  WalChainState st{chain.pageSize, first.salt1, first.salt2, false, first.checksum};
  bool known = false;
  ParsedWalSegment out;
  WalFrameView f1{first, raw.subspan(kWalFrameHeaderSize, chain.pageSize)};
  if (raw.size() > frameSize) {
    out = parseContinuing(raw.subspan(frameSize), offset + frameSize, st, known, maxPageCount);
  }
  if (first.isCommit()) {
    out.transactions.insert(out.transactions.begin(), WalTransaction{{f1}});
  } else if (out.transactions.empty()) {
    throw Error("segment does not end on a commit frame at WAL offset " + std::to_string(offset));
  } else {
    out.transactions.front().frames.insert(out.transactions.front().frames.begin(), f1);
  }
  out.endOffset = offset + raw.size();
  chain = st;
  orderKnown = known;
  return out;
}

// Why an append gave up, having waited for SQLite's write lock on LOCAL_DB since `start`.
std::string writeLockBusy(std::chrono::steady_clock::time_point start) {
  const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(
      std::chrono::steady_clock::now() - start);
  return "SQLite's write lock on it stayed busy for " + std::to_string(waited.count()) +
         " ms (another connection is writing to it or checkpointing it)";
}

// The fields of a database header (the first 100 bytes) that SQLite requires, for an image of
// `pages` pages of `pageSize` in WAL mode; "" when they hold, else which does not.
std::string checkDatabaseHeader(const uint8_t* h, uint32_t pageSize, uint64_t pages) {
  if (std::memcmp(h, "SQLite format 3", 16) != 0) return "not a SQLite database image";
  const uint32_t headerPageSize = loadBE16(h + 16) == 1 ? 65536 : loadBE16(h + 16);
  if (headerPageSize != pageSize) {
    return "page size " + std::to_string(headerPageSize) + " in its header, " +
           std::to_string(pageSize) + " announced";
  }
  if (h[18] != 2 || h[19] != 2) return "not a WAL-mode image";
  if (pageSize - h[20] < 480) return "reserved space of " + std::to_string(h[20]) + " bytes";
  if (h[21] != 64 || h[22] != 32 || h[23] != 32) return "payload fractions not 64, 32, 32";
  // The size in the header counts only while the change counter and version-valid-for agree.
  const uint32_t headerPages = loadBE32(h + 28);
  if (headerPages != 0 && loadBE32(h + 24) == loadBE32(h + 92) && headerPages != pages) {
    return "header says " + std::to_string(headerPages) + " pages, the image has " +
           std::to_string(pages);
  }
  return {};
}

}  // namespace

ReplicaApplier::ReplicaApplier(std::string localPath, ApplierOptions options)
    : localPath_(std::move(localPath)),
      positionPath_(localPath_ + "-walstream/position"),
      positionFile_(positionPath_, *options.fileSystem),
      snapshotPath_(localPath_ + ".walstream-snapshot"),
      options_(options),
      maxPageCount_(sqliteMaxPageCount()) {
  // A promoted database is no replica any more (docs/promotion.md): a snapshot would overwrite
  // what was written on it since.
  if (const std::string promoted = promotedRecordPath(localPath_); pathExists(promoted)) {
    throw Error(localPath_ + " was promoted to a primary's database (" + promoted +
                " exists); a replica does not follow into it");
  }
  // A snapshot being received when the replica last stopped (killed) is of no use now; one that
  // cannot be removed is overwritten by the next snapshot.
  try {
    options_.fileSystem->unlink(snapshotPath_);
  } catch (const Error& e) {
    log::warn(e.what());
  }
  if (pathExists(localPath_)) {
    position_ = loadReplicaPosition(positionPath_);
    if (!position_ && pathExists(positionPath_)) {
      log::warn(positionPath_ + " is unreadable; the replica will fetch a snapshot");
    }
    // Attach at once: from here on a local write is noticed by the next append.
    if (position_) {
      appender();
      checkLocalWal();
    }
  }
  // The state LOCAL_DB resumes at is served before anything new arrives.
  std::unique_lock<std::mutex> publish = lockPublish();
  reportPublished();
}

void ReplicaApplier::checkLocalWal() {
  startProblem_ = localWalProblem();
  if (startProblem_.empty()) return;
  if (options_.logStartProblem) {
    log::warn(startProblem_ + "; the replica will fetch a snapshot");
  }
  position_.reset();
}

std::string ReplicaApplier::localWalProblem() {
  // The durability invariant in replica_applier.h says why exactly these cases resume.
  const std::optional<WalIndexHeader> h = appender().readHeader();
  const std::optional<LocalWalState>& saved = position_->local;
  std::string found = "an unreadable wal-index";
  if (h) {
    const LocalWalState now{h->salt, h->mxFrame, h->frameChecksum, std::nullopt};
    if (saved && saved->mxFrame == 0 && now.mxFrame == 0) {
      // The database file must be the one the position describes: a local write checkpointed
      // into it (the last SQLite connection to close LOCAL_DB checkpoints, and deletes the WAL)
      // leaves an empty WAL too.
      if (saved->dbFile && stampFile(localPath_) == saved->dbFile) return {};
      return localPath_ + " has changed since the saved position " + position_->pos.str() +
             " (its size or times are not those recorded): a local write, checkpointed into "
             "it while the replica was stopped";
    }
    if (saved && saved->mxFrame != 0 && now == *saved) return {};
    found = std::to_string(h->mxFrame) + " frames";
  }
  return localPath_ + "'s WAL (" + found + ") is not where the saved position " +
         position_->pos.str() + " left it (" +
         (saved ? std::to_string(saved->mxFrame) + " frames" : std::string("not recorded")) +
         "): a crash or power failure between an apply and saving its position, or a local "
         "write";
}

void ReplicaApplier::continueGeneration(const Pos& from, const Pos& start) {
  if (!position_ || position_->pos != from) {
    throw Error("the upstream continues " + from.str() + ", but " + localPath_ + " stands at " +
                (position_ ? position_->pos.str() : std::string("no position")));
  }
  if (start.generation == from.generation || start.index != 0 || start.offset != 0) {
    throw Error("the upstream continues " + from.str() + " at " + start.str() +
                ", which is not the start of another generation");
  }
  // As right after a snapshot at an offset 0: the segment there carries the WAL header, which
  // anchors the chain and tells its word order. LOCAL_DB's own WAL is untouched.
  const uint32_t pageSize = position_->chain.pageSize;
  position_->pos = start;
  position_->chain = WalChainState{};
  position_->chain.pageSize = pageSize;
  position_->chainKnown = false;
  position_->orderKnown = true;
  overlap_.reset();
  std::unique_lock<std::mutex> publish = lockPublish();
  savePosition();
  reportPublished();
}

void ReplicaApplier::recordTruncatedWal() {
  // SQLite truncates without a flush. Until the truncation is on the device, a power failure
  // brings back the old WAL that the flushed position describes; once it is, only a position
  // saying "empty WAL" (mxFrame 0) resumes, so that one is written and flushed after it.
  appender_->syncWal();
  if (!position_) return;
  savePosition();
  positionFile_.sync();
}

ReplicaApplier::~ReplicaApplier() {
  abortSnapshot();
  // A clean stop leaves the WAL and the position that describes it on the device, so the next
  // start resumes even after a later power failure. An empty WAL is preferred: the last
  // read-write connection to close LOCAL_DB while the replica is stopped checkpoints and
  // deletes a non-empty WAL, which a restart cannot tell from a WAL lost to a power failure.
  // Never after a local write that no apply has seen yet: the checkpoint would copy it into the
  // database file and the position would then describe that file, so the next start (or a
  // promotion) would take a state the primary never had for the one at the position. Left in
  // the WAL, the write makes the WAL differ from the saved position, which the next start sees.
  try {
    if (appender_) {
      const bool written = position_ && !appender_->unmodified();
      if (written) {
        log::warn(localPath_ +
                  " was written locally since the last apply; not checkpointed at "
                  "the stop (the next start fetches a snapshot)");
      }
      if (position_ && !written && appender_->checkpointTruncate(std::chrono::milliseconds(0))) {
        recordTruncatedWal();
      } else {
        appender_->syncWal();
        if (position_) positionFile_.sync();
      }
    }
  } catch (const Error& e) {
    log::warn(localPath_ + ": " + e.what());
  }
}

WalAppender& ReplicaApplier::appender() {
  if (!appender_) {
    WalAppenderOptions options;
    options.syncWal = false;  // see the durability invariant in replica_applier.h
    options.fileSystem = options_.fileSystem;
    appender_ = std::make_unique<WalAppender>(localPath_, options);
  }
  return *appender_;
}

void ReplicaApplier::savePosition() {
  // Not flushed here: a device flush per apply doubled the replica's cost. The record carries
  // LOCAL_DB's WAL state, so that one the WAL does not match is recognised on start
  // (checkLocalWal); when it is flushed is the durability invariant's business.
  position_->local.reset();
  if (appender_) {
    if (const auto h = appender_->readHeader()) {
      position_->local = LocalWalState{h->salt, h->mxFrame, h->frameChecksum, std::nullopt};
      // LOCAL_DB's file holds the whole state now and changes only by the next checkpoint,
      // before which a later position is flushed (the durability invariant).
      if (h->mxFrame == 0) position_->local->dbFile = stampFile(localPath_);
    }
  }
  if (!positionDirExists_) {
    // The directory's own name must survive a power failure for the position to (once per run:
    // a run that died may have created it without the flush).
    const std::string positionDir = dirName(positionPath_);
    options_.fileSystem->makeDirs(positionDir);
    options_.fileSystem->fsyncDir(dirName(positionDir));
    positionDirExists_ = true;
  }
  positionFile_.write(formatReplicaPosition(*position_), /*durable=*/false);
}

void ReplicaApplier::beginSnapshot(const Pos& pos, uint32_t pageSize, uint64_t size,
                                   std::optional<WalChainState> chain) {
  abortSnapshot();
  if (chain && (pos.offset == 0 || chain->pageSize != pageSize)) {
    throw Error("snapshot at " + pos.str() + " comes with a WAL chain it cannot have");
  }
  if (!isValidPageSize(pageSize)) {
    throw Error("snapshot at " + pos.str() + " has invalid page size " + std::to_string(pageSize));
  }
  if (size == 0 || size % pageSize != 0) {
    throw Error("snapshot at " + pos.str() + " has size " + std::to_string(size) +
                ", not a whole number of " + std::to_string(pageSize) + "-byte pages");
  }
  const uint64_t pages = size / pageSize;
  if (pages > maxPageCount_) {
    throw Error("snapshot at " + pos.str() + " has " + std::to_string(pages) +
                " pages, more than the " + std::to_string(maxPageCount_) +
                " a database can have here");
  }
  // Room before the first byte is written: the received file, and when it is applied into an
  // existing LOCAL_DB of the same page size, its pages again in LOCAL_DB's WAL.
  const bool intoWal = appender_ || pathExists(localPath_);
  const uint64_t need =
      size + (intoWal ? pages * (pageSize + kWalFrameHeaderSize) : 0) + kFreeSpaceReserve;
  const uint64_t free = freeBytes(dirName(localPath_));
  if (need > free) {
    throw Error("snapshot at " + pos.str() + " of " + std::to_string(size) + " bytes needs " +
                std::to_string(need) + " bytes of free space beside " + localPath_ + ", " +
                std::to_string(free) + " are free");
  }
  snapshotFd_ = options_.fileSystem->openFile(snapshotPath_, O_RDWR | O_CREAT | O_TRUNC, 0644);
  snapshotStaged_ = true;
  snapshotWriteback_.emplace(snapshotFd_.get(), snapshotPath_);
  snapshotPos_ = pos;
  snapshotChain_ = chain;
  snapshotPageSize_ = pageSize;
  snapshotSize_ = size;
  snapshotReceived_ = 0;
}

void ReplicaApplier::snapshotBytes(std::span<const uint8_t> bytes) {
  if (!snapshotFd_.valid()) throw Error("snapshot bytes arrived outside a snapshot");
  if (snapshotReceived_ + bytes.size() > snapshotSize_) {
    abortSnapshot();
    throw Error("snapshot at " + snapshotPos_.str() + " is longer than announced");
  }
  try {
    options_.fileSystem->writeFull(snapshotFd_.get(), bytes.data(), bytes.size(), snapshotPath_);
  } catch (const Error&) {
    abortSnapshot();  // a full disk keeps no partial file
    throw;
  }
  snapshotReceived_ += bytes.size();
  // Most of the image reaches the disk while the rest arrives: the fsync in endSnapshot() is
  // then short, and the received file does not fill the page cache.
  snapshotWriteback_->wrote(snapshotReceived_);
}

void ReplicaApplier::abortSnapshot() {
  snapshotWriteback_.reset();
  snapshotFd_.reset();
  // By the staged file, not the descriptor: the file outlives its descriptor between the close
  // and the rename that installs it, and a rename that fails must not leave it behind.
  if (!snapshotStaged_) return;
  snapshotStaged_ = false;
  try {
    options_.fileSystem->unlink(snapshotPath_);
  } catch (const Error& e) {
    log::warn(e.what());  // a stray file is removed at the next start
  }
}

void ReplicaApplier::endSnapshot() {
  if (!snapshotFd_.valid()) throw Error("snapshot end outside a snapshot");
  if (snapshotReceived_ != snapshotSize_) {
    abortSnapshot();
    throw Error("snapshot at " + snapshotPos_.str() + " ended after " +
                std::to_string(snapshotReceived_) + " of " + std::to_string(snapshotSize_) +
                " bytes");
  }
  // Nothing reaches LOCAL_DB (and /healthz never turns 200) on an image SQLite would call
  // malformed: the header's fields, then SQLite's own structural check of the received file.
  uint8_t header[100];
  std::string problem;
  if (preadFull(snapshotFd_.get(), header, sizeof header, 0, snapshotPath_) != sizeof header) {
    problem = "shorter than a database header";
  } else {
    problem = checkDatabaseHeader(header, snapshotPageSize_, snapshotSize_ / snapshotPageSize_);
  }
  if (problem.empty()) problem = quickCheckImage(snapshotPath_);
  if (!problem.empty()) {
    abortSnapshot();
    throw Error("snapshot at " + snapshotPos_.str() +
                " is refused: " + printableText(problem, 256));
  }
  std::unique_lock<std::mutex> publish = lockPublish();
  try {
    options_.fileSystem->fsync(snapshotFd_.get(), snapshotPath_);
    installSnapshotFile();
  } catch (...) {
    abortSnapshot();  // a received file that could not be installed is of no use either
    throw;
  }
  overlap_.reset();
  position_ = ReplicaPosition{snapshotPos_, WalChainState{}, false, std::nullopt};
  position_->chain.pageSize = snapshotPageSize_;
  if (snapshotChain_) {
    position_->chain = *snapshotChain_;
    position_->chainKnown = true;
  }
  savePosition();
  reportPublished();
}

void ReplicaApplier::installSnapshotFile() {
  // A snapshot of another page size (the primary's database was rebuilt with a new one while
  // walstream was down) cannot be applied as a transaction: SQLite's WAL holds pages of one
  // size. LOCAL_DB is then replaced by the new image, by rename, as on the first start: readers
  // that have it open keep reading the old file (their open transaction stays valid), and every
  // connection opened afterwards reads the new one with its own new -wal and -shm.
  const bool replace = pathExists(localPath_) && appender().pageSize() != snapshotPageSize_;
  if (replace) {
    log::warn(localPath_ + ": the primary's page size changed from " +
              std::to_string(appender().pageSize()) + " to " + std::to_string(snapshotPageSize_) +
              "; replacing LOCAL_DB with the new snapshot");
    // This process's last connection to the old file; closing it drops its locks there.
    if (options_.listener) options_.listener->replacingLocalDb();
    appender_.reset();
  }
  if (replace || (!appender_ && !pathExists(localPath_))) {
    // First start (or a replacement): the complete image is moved into place.
    // A position left by an earlier LOCAL_DB must not survive a crash beside the new image
    // (it could say "empty WAL" and resume there): its removal is durable before the rename.
    FileSystem& fs = *options_.fileSystem;
    positionFile_.remove();
    if (pathExists(dirName(positionPath_))) fs.fsyncDir(dirName(positionPath_));
    // Leftover -wal/-shm files would be replayed onto the new image by SQLite: remove them.
    fs.unlink(localPath_ + "-wal");
    fs.unlink(localPath_ + "-shm");
    snapshotWriteback_.reset();
    snapshotFd_.reset();
    try {
      fs.rename(snapshotPath_, localPath_);
    } catch (const Error& e) {
      abortSnapshot();  // the received file is of no use, and would count against free space
      throw Error(std::string("cannot move the snapshot into place: ") + e.what());
    }
    snapshotStaged_ = false;  // it is LOCAL_DB now
    fs.fsyncDir(dirName(localPath_));
    // Attach now, before the snapshot is reported applied (and /healthz turns 200): the
    // appender's connection creates the wal-index and keeps it, so readers that open LOCAL_DB
    // from then on never run SQLite's WAL recovery, which answers SQLITE_BUSY to a connection
    // without a busy timeout that opens during another's.
    appender();
    return;
  }
  // LOCAL_DB exists and may have readers: apply the image as one transaction.
  WalAppender& a = appender();
  const auto start = std::chrono::steady_clock::now();
  while (a.beginSnapshot(snapshotPageSize_) == AppendStatus::Busy) {
    if (std::chrono::steady_clock::now() > start + options_.writeLockPatience) {
      throw Error(localPath_ + ": cannot apply the snapshot at " + snapshotPos_.str() + " (" +
                  std::to_string(snapshotSize_ / snapshotPageSize_) + " pages) over the applied " +
                  "position " + (position_ ? position_->pos.str() : std::string("(none)")) + ": " +
                  writeLockBusy(start));
    }
  }
  try {
    std::vector<uint8_t> buf(size_t{1} << 20);
    for (uint64_t off = 0; off < snapshotSize_;) {
      const size_t n =
          preadFull(snapshotFd_.get(), buf.data(),
                    std::min<uint64_t>(buf.size(), snapshotSize_ - off), off, snapshotPath_);
      if (n == 0) throw Error(snapshotPath_ + " is shorter than the snapshot");
      a.addSnapshotBytes({buf.data(), n});
      off += n;
    }
    (void)a.commitSnapshot();
  } catch (...) {
    a.abortSnapshot();
    throw;
  }
  abortSnapshot();  // removes the received file
}

std::vector<std::span<const uint8_t>> ReplicaApplier::decompressBatch(
    const std::vector<ReceivedSegment>& segments) {
  // Segments whose lz4 header declares no content size (an upstream of the original protocol)
  // are decompressed first, into memory that grows with them up to what a segment may hold;
  // then every segment's size is known and checked before the batch's scratch is taken.
  std::vector<std::optional<Lz4Decompressor::Content>> undeclared(segments.size());
  std::vector<size_t> sizes;
  sizes.reserve(segments.size());
  size_t total = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    const ReceivedSegment& s = segments[i];
    std::optional<uint64_t> size = lz4ContentSize(s.lz4);
    if (!size) {
      undeclared[i] = decompressUndeclared(s);
      size = undeclared[i]->size;
    }
    checkSegmentSize(s, *size, /*declared=*/!undeclared[i]);
    sizes.push_back(static_cast<size_t>(*size));
    total += sizes.back();
  }
  const size_t need = total > kKeptScratchBytes ? total + kLz4MaxBlockSize : total;
  if (need <= kKeptScratchBytes) releaseLargeScratch();
  if (scratchSize_ < need) {
    scratch_.reset();
    scratch_ = std::make_unique_for_overwrite<uint8_t[]>(need);
    scratchSize_ = need;
  }
  std::vector<std::span<const uint8_t>> raws;
  raws.reserve(segments.size());
  size_t at = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    uint8_t* const out = scratch_.get() + at;
    if (undeclared[i]) {
      std::memcpy(out, undeclared[i]->data.get(), sizes[i]);
      undeclared[i].reset();
    } else {
      decompressDeclared(segments[i], {out, scratchSize_ - at}, sizes[i]);
    }
    raws.emplace_back(out, sizes[i]);
    at += sizes[i];
  }
  return raws;
}

Lz4Decompressor::Content ReplicaApplier::decompressUndeclared(const ReceivedSegment& s) {
  // The bound is what a segment may hold and what lz4 can encode in the bytes received, enforced
  // while decompressing; the frames are checked as they appear.
  const size_t bound =
      static_cast<size_t>(std::min<uint64_t>(kMaxWalSegmentBytes, s.lz4.size() * kLz4MaxExpansion));
  WalSegmentPrefixCheck prefix(s.pos.offset, position_->chain.pageSize, maxPageCount_);
  try {
    return lz4_.decompressGrowing(s.lz4, bound,
                                  [&](std::span<const uint8_t> bytes) { prefix.check(bytes); });
  } catch (const Error& e) {
    throw Error("segment " + s.pos.str() + " (an lz4 frame without a content size): " + e.what());
  }
}

void ReplicaApplier::checkSegmentSize(const ReceivedSegment& s, uint64_t size,
                                      bool declared) const {
  // What a segment can hold, checked on the lz4 header's word before any memory is taken for
  // it: whole frames of the stream's page size (after the WAL header at offset 0), no more
  // than the primary ever stores, and no more than lz4 can encode in the bytes received.
  const uint64_t frameSize = position_->chain.pageSize + kWalFrameHeaderSize;
  const uint64_t header = s.pos.offset == 0 ? kWalHeaderSize : 0;
  const std::string what = "segment " + s.pos.str() +
                           (declared ? " declares " : " decompresses to ") + std::to_string(size) +
                           (declared ? " bytes decompressed" : " bytes");
  if (size > kMaxWalSegmentBytes) {
    throw Error(what + ", more than a segment holds (" + std::to_string(kMaxWalSegmentBytes) + ")");
  }
  if (size > s.lz4.size() * kLz4MaxExpansion) {
    throw Error(what + ", more than its " + std::to_string(s.lz4.size()) + " lz4 bytes can encode");
  }
  if (size < header + frameSize || (size - header) % frameSize != 0) {
    throw Error(what + ", not a whole number of " + std::to_string(frameSize) + "-byte frames" +
                (header ? " after the WAL header" : ""));
  }
}

void ReplicaApplier::decompressDeclared(const ReceivedSegment& s, std::span<uint8_t> out,
                                        size_t declared) {
  size_t n = 0;
  WalSegmentPrefixCheck prefix(s.pos.offset, position_->chain.pageSize, maxPageCount_);
  try {
    n = lz4_.decompress(s.lz4, out, [&](size_t written) { prefix.check({out.data(), written}); });
  } catch (const Error& e) {
    throw Error("segment " + s.pos.str() + ": " + e.what());
  }
  if (n != declared) {
    throw Error("segment " + s.pos.str() + " decompresses to " + std::to_string(n) +
                " bytes, its lz4 header says " + std::to_string(declared));
  }
}

uint64_t ReplicaApplier::applySegments(const std::vector<ReceivedSegment>& segments) {
  if (segments.empty()) return 0;
  if (!position_) throw Error("WAL segments arrived before any snapshot");
  // Check everything before taking any lock: every frame of every segment against the primary's
  // chain, across WAL restarts (a segment at offset 0 of the next index starts a new chain).
  try {
    return applyBatch(segments);
  } catch (...) {
    // A failed batch (a lying or damaged segment) keeps no large buffer.
    releaseLargeScratch();
    throw;
  }
}

void ReplicaApplier::releaseLargeScratch() {
  if (scratchSize_ <= kKeptScratchBytes) return;
  scratch_.reset();
  scratchSize_ = 0;
}

std::optional<ParsedWalSegment> ReplicaApplier::checkSegment(ReplicaPosition& next,
                                                             const ReceivedSegment& s,
                                                             std::span<const uint8_t> raw) {
  const Pos& at = next.pos;
  Pos from = s.pos;
  if (s.pos.generation == at.generation && s.pos.index == at.index && s.pos.offset < at.offset) {
    // The upstream resent part of what was applied (the original protocol resumes from offset
    // 0 of the index): verified against the chain kept at the position, then skipped.
    const WalOverlap::Outcome o =
        overlap_.check(s.pos, raw, at, next.chain, next.chainKnown, maxPageCount_);
    switch (o.verdict) {
      case WalOverlap::Verdict::kInside:
        return std::nullopt;
      case WalOverlap::Verdict::kOutOfOrder:
        throw Error(o.why);
      case WalOverlap::Verdict::kDiverged:
        forgetPosition();
        throw WalDivergedError("segment " + s.pos.str() + ": " + o.why);
      case WalOverlap::Verdict::kReachesPosition:
        next.chain = o.chain;
        next.orderKnown = true;
        if (o.rest.empty()) return std::nullopt;
        raw = o.rest;
        from = at;
        break;
    }
  }
  const SegmentSuccession succession = segmentSuccession(at, from);
  if (succession == SegmentSuccession::kBreaks) {
    throw Error("segment " + s.pos.str() + " does not follow the applied position " + at.str());
  }
  if (succession == SegmentSuccession::kStartsNextIndex && !s.mayStartIndex) {
    throw Error("segment " + s.pos.str() + " starts the next WAL index, but the upstream did " +
                "not confirm that index " + formatHex16(at.index) + " ended at the applied " +
                "position " + at.str());
  }
  ParsedWalSegment parsed;
  try {
    if (from.offset == 0) {
      parsed = parseWalSegment(raw, 0, next.chain, maxPageCount_);  // the header tells the order
      next.orderKnown = true;
    } else if (next.chainKnown) {
      parsed = parseContinuing(raw, from.offset, next.chain, next.orderKnown, maxPageCount_);
    } else {
      parsed = parseAnchored(raw, from.offset, next.chain, next.orderKnown, maxPageCount_);
    }
  } catch (const Error& e) {
    throw Error("segment " + s.pos.str() + ": " + e.what());
  }
  if (next.chain.pageSize != position_->chain.pageSize) {
    throw Error("segment " + s.pos.str() + " has page size " + std::to_string(next.chain.pageSize) +
                ", the replica " + std::to_string(position_->chain.pageSize));
  }
  next.chainKnown = true;
  next.pos = {s.pos.generation, s.pos.index, parsed.endOffset};
  return parsed;
}

void ReplicaApplier::forgetPosition() {
  // Only a snapshot can bring LOCAL_DB back to a state the primary had. The removal is flushed:
  // the old position must not come back after a power failure.
  {
    std::unique_lock<std::mutex> publish = lockPublish();
    if (options_.listener) options_.listener->forgotten();
  }
  position_.reset();
  overlap_.reset();
  positionFile_.remove();
  if (pathExists(dirName(positionPath_))) options_.fileSystem->fsyncDir(dirName(positionPath_));
}

uint64_t ReplicaApplier::applyBatch(const std::vector<ReceivedSegment>& segments) {
  ReplicaPosition next = *position_;
  const std::vector<std::span<const uint8_t>> raws = decompressBatch(segments);
  std::vector<WalTransaction> txns;
  std::vector<AppliedSegment> applied;  // applied whole, for the listener
  for (size_t i = 0; i < segments.size(); ++i) {
    const Pos before = next.pos;
    std::optional<ParsedWalSegment> parsed = checkSegment(next, segments[i], raws[i]);
    if (!parsed) continue;
    const Pos& at = segments[i].pos;
    const bool resent =
        at.generation == before.generation && at.index == before.index && at.offset < before.offset;
    if (!resent) applied.push_back({at, segments[i].lz4, raws[i].size()});
    for (auto& t : parsed->transactions) txns.push_back(std::move(t));
  }

  std::unique_lock<std::mutex> publish = lockPublish();
  if (!txns.empty()) {
    // One local transaction for the whole batch; its frames point into scratch_.
    const WalTransaction merged = merger_.merge(txns);
    WalAppender& a = appender();
    const auto start = std::chrono::steady_clock::now();
    try {
      for (;;) {
        AppendResult r = a.appendTransactions(next.chain.pageSize, {&merged, 1});
        if (r.status == AppendStatus::Applied) break;
        if (std::chrono::steady_clock::now() > start + options_.writeLockPatience) {
          throw Error(localPath_ + ": cannot apply " + std::to_string(txns.size()) +
                      (txns.size() == 1 ? " transaction" : " transactions") +
                      " from the applied position " + position_->pos.str() + " to " +
                      next.pos.str() + ": " + writeLockBusy(start));
        }
      }
    } catch (const ReplicaModifiedError&) {
      if (publish.owns_lock()) publish.unlock();  // forgetPosition() takes it
      forgetPosition();
      throw;
    }
  }
  position_ = next;
  savePosition();
  reportPublished(applied);
  return txns.size();
}

std::unique_lock<std::mutex> ReplicaApplier::lockPublish() {
  if (!options_.listener) return {};
  return options_.listener->lockPublish();
}

void ReplicaApplier::reportPublished(std::span<const AppliedSegment> segments) {
  if (!options_.listener || !position_) return;
  AppliedState state;
  state.pos = position_->pos;
  state.pageSize = position_->chain.pageSize;
  if (position_->chainKnown && position_->orderKnown) state.chain = position_->chain;
  // Read now, under the publish lock: exactly what a reader beginning under it sees.
  if (const auto h = appender().readHeader()) {
    state.localMxFrame = h->mxFrame;
    state.localSalt = h->salt;
  } else {
    options_.listener->forgotten();  // no wal-index to describe: nothing can be served
    return;
  }
  options_.listener->published(state, segments);
}

bool ReplicaApplier::maybeCheckpoint() {
  if (!appender_) return false;
  const uint32_t frames = appender_->walFrameCount();
  if (frames < std::min(options_.minCheckpointPages, options_.maxCheckpointPages)) return false;
  // Before any checkpoint copies frames into the database file, the position describing them
  // is flushed (the durability invariant in replica_applier.h).
  positionFile_.sync();
  // Restarting the WAL keeps it small, and succeeds at once when no reader is inside it; past
  // maxCheckpointPages the restart waits briefly for readers. Otherwise a PASSIVE checkpoint
  // copies what the readers allow.
  const auto wait = frames >= options_.maxCheckpointPages ? options_.truncateBusyTimeout
                                                          : std::chrono::milliseconds(0);
  // A truncation empties LOCAL_DB's WAL: the listener learns the new local state under the
  // same lock (its snapshots read the WAL's frames up to the mxFrame reported).
  {
    std::unique_lock<std::mutex> publish = lockPublish();
    if (appender_->checkpointTruncate(wait)) {
      recordTruncatedWal();
      reportPublished();
      return true;
    }
  }
  appender_->checkpointPassive();
  return true;
}

}  // namespace walstream::client
