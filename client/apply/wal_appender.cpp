#include "client/apply/wal_appender.h"

#include <fcntl.h>
#include <sqlite3.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <thread>

#include "core/byte_order.h"
#include "core/wal_format.h"

namespace walstream {

namespace {

// The db file's SHARED range, as every SQLite connection locks it (docs/sqlite-wal.md §4.1).
constexpr off_t kDbSharedFirst = 0x40000002;
constexpr off_t kDbSharedSize = 510;
// Busy timeout of the kept connection outside checkpointTruncate: long enough to ride out
// another process's DMS handshake or recovery.
constexpr int kConnectionBusyMs = 1000;
// Encoded frames are written in runs of about this many bytes.
constexpr size_t kFrameBufferLimit = size_t{1} << 20;

// The WAL file is extended with zeros this far ahead of the frames being appended. Appending
// frames then overwrites allocated blocks without changing the file size, so the fsync before
// each publish is a data flush instead of a file-system journal commit (about half the time
// here). Zeros past the last valid frame are what SQLite itself leaves in a reused WAL: a
// frame with the wrong salts, which recovery stops at.
constexpr uint64_t kWalPreallocation = uint64_t{1} << 20;
constexpr char kDbMagic[16] = {'S', 'Q', 'L', 'i', 't', 'e', ' ', 'f',
                               'o', 'r', 'm', 'a', 't', ' ', '3', '\0'};

uint32_t decodeDbPageSize(const uint8_t* header) {
  const uint32_t v = loadBE16(header + 16);
  return v == 1 ? 65536 : v;
}

std::string describeHeader(const WalIndexHeader& h) {
  return "mxFrame " + std::to_string(h.mxFrame) + ", nPage " + std::to_string(h.nPage) +
         ", iChange " + std::to_string(h.change) + ", salts " + std::to_string(h.salt1()) + "/" +
         std::to_string(h.salt2());
}

}  // namespace

struct WalAppender::FramePosition {
  uint32_t mxFrame = 0;                   // the published mxFrame when the write lock was taken
  uint32_t nextFrame = 1;                 // the frame the next writeFrame writes
  uint64_t bufferStart = kWalHeaderSize;  // WAL offset of frameBuffer_[0]
  std::array<uint8_t, 8> salt{};
  Checksum chain;  // running checksum after frame nextFrame - 1
  bool bigEndian = false;
  bool newWal = false;
};

struct WalAppender::SnapshotState {
  OfdLock writeLock;
  WalIndexHeader header;  // as validated when the lock was taken
  FramePosition pos;
  std::vector<uint8_t> pending;  // the last complete page (held back: it may be the commit
                                 // frame) or the start of a partial one
  uint32_t pagesWritten = 0;
  uint32_t headerPageCount = 0;  // page 1's in-header size when SQLite would trust it, else 0
};

WalAppender::WalAppender(const std::string& dbPath, WalAppenderOptions options)
    : dbPath_(dbPath),
      walPath_(dbPath + "-wal"),
      shmPath_(dbPath + "-shm"),
      options_(std::move(options)) {
  if (!pathExists(dbPath_)) throw Error("replica database " + dbPath_ + " does not exist");
  conn_ = std::make_unique<SqliteConnection>(dbPath_, SQLITE_OPEN_READWRITE);
  conn_->setBusyTimeout(kConnectionBusyMs);
  // One read: the DMS handshake, creation of -wal and -shm, recovery if the index needs it.
  conn_->queryInt("SELECT count(*) FROM sqlite_master");

  dbFd_ = openFile(dbPath_, O_RDONLY);
  uint8_t header[100];
  if (preadFull(dbFd_.get(), header, sizeof header, 0, dbPath_) != sizeof header ||
      std::memcmp(header, kDbMagic, sizeof kDbMagic) != 0) {
    throw Error("replica " + dbPath_ + " is not a SQLite database");
  }
  if (header[18] != 2 || header[19] != 2) {
    throw Error("replica " + dbPath_ + " is not in WAL mode (header bytes 18/19 are " +
                std::to_string(header[18]) + "/" + std::to_string(header[19]) + ")");
  }
  pageSize_ = decodeDbPageSize(header);
  if (!isValidPageSize(pageSize_)) {
    throw Error("replica " + dbPath_ + " has an invalid page size " + std::to_string(pageSize_));
  }
  walFd_ = options_.fileSystem->openFile(walPath_, O_RDWR | O_CREAT, 0644);
  shmFd_ = options_.fileSystem->openFile(shmPath_, O_RDWR);

  dbSharedLock_ =
      OfdLock::tryAcquire(dbFd_.get(), kDbSharedFirst, kDbSharedSize, LockMode::Shared, dbPath_);
  if (!dbSharedLock_) {
    throw Error("cannot share-lock " + dbPath_ +
                ": a connection holds it exclusively (closing, changing journal mode, or "
                "locking_mode=EXCLUSIVE)");
  }
  // The kept connection holds DMS shared since its read; anything else means the -shm is not
  // live and its content cannot be trusted.
  const auto dms =
      OfdLock::conflictingLock(shmFd_.get(), kShmDmsLock, 1, LockMode::Exclusive, shmPath_);
  if (dms != LockMode::Shared) {
    throw Error("the wal-index " + shmPath_ + " is not live (DMS byte " +
                (dms ? "held exclusively" : "unlocked") + ")");
  }
  dmsLock_ = OfdLock::tryAcquire(shmFd_.get(), kShmDmsLock, 1, LockMode::Shared, shmPath_);
  if (!dmsLock_) throw Error("cannot share-lock the DMS byte of " + shmPath_);

  index_ = std::make_unique<WalIndexFile>(shmFd_.get(), shmPath_, /*writable=*/true,
                                          *options_.fileSystem);
  if (!index_->block(0)) throw Error("the wal-index " + shmPath_ + " has no header block");
  lastSeen_ = readHeader();
}

WalAppender::~WalAppender() {
  abortSnapshot();
}

std::optional<WalIndexHeader> WalAppender::readHeader() {
  const uint8_t* block0 = index_->block(0);
  // A header is torn only while some writer publishes it, which takes microseconds.
  for (int attempt = 0; attempt < 200; ++attempt) {
    if (auto h = readWalIndexHeader(block0)) {
      if (h->version != kWalVersion) {
        throw Error("unsupported wal-index version " + std::to_string(h->version) + " in " +
                    shmPath_);
      }
      return h;
    }
    if (attempt < 20) {
      std::this_thread::yield();
    } else {
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
  }
  return std::nullopt;
}

bool WalAppender::unmodified() {
  const std::optional<WalIndexHeader> h = readHeader();
  if (!h) return false;
  try {
    checkUnmodified(*h, /*recovered=*/false);
  } catch (const ReplicaModifiedError&) {
    return false;
  }
  return true;
}

uint32_t WalAppender::walFrameCount() {
  if (auto h = readHeader()) return h->mxFrame;
  return lastSeen_ ? lastSeen_->mxFrame : 0;
}

std::optional<WalIndexHeader> WalAppender::lockWithValidHeader(OfdLock& writeLock,
                                                               bool& recovered) {
  recovered = false;
  std::string lastFailure;
  for (int attempt = 0;; ++attempt) {
    writeLock = OfdLock::acquireWithin(shmFd_.get(), kShmWriteLock, 1, LockMode::Exclusive,
                                       options_.writeLockTimeout, shmPath_);
    if (!writeLock) return std::nullopt;
    // Under WAL_WRITE_LOCK nobody publishes, so a header that does not validate now was left
    // by a writer that died between the two copies.
    if (auto h = readWalIndexHeader(index_->block(0))) {
      if (h->version != kWalVersion) {
        throw Error("unsupported wal-index version " + std::to_string(h->version) + " in " +
                    shmPath_);
      }
      return h;
    }
    writeLock.release();
    if (attempt >= options_.recoveryAttempts) {
      throw Error("the wal-index header of " + shmPath_ + " stays invalid after " +
                  std::to_string(attempt) + " recovery attempts" + lastFailure);
    }
    // A read on the stock connection finds the header invalid, takes WAL_WRITE_LOCK itself and
    // rebuilds the index from the WAL file.
    recovered = true;
    try {
      conn_->queryInt("SELECT count(*) FROM sqlite_master");
    } catch (const Error& e) {
      lastFailure = std::string("; last recovery attempt: ") + e.what();
    }
  }
}

void WalAppender::checkUnmodified(const WalIndexHeader& now, bool recovered) const {
  if (!lastSeen_) return;
  const WalIndexHeader& was = *lastSeen_;
  const bool sameLog = now.mxFrame == was.mxFrame && now.frameChecksum == was.frameChecksum &&
                       now.salt == was.salt && now.nPage == was.nPage;
  // Recovery rebuilds the same log from the WAL file but resets iChange to 0.
  if (sameLog && (now.change == was.change || recovered)) return;
  // A checkpoint that reset the WAL (TRUNCATE) keeps iChange, nPage and aFrameCksum; every
  // commit bumps iChange.
  if (now.mxFrame == 0 && now.change == was.change && now.nPage == was.nPage &&
      now.frameChecksum == was.frameChecksum) {
    return;
  }
  if (recovered && now.mxFrame == 0 && was.mxFrame == 0) return;
  throw ReplicaModifiedError(
      "replica " + dbPath_ + " was modified locally: its wal-index header changed from " +
      describeHeader(was) + " to " + describeHeader(now) + (recovered ? " (after recovery)" : ""));
}

void WalAppender::checkWalMatchesHeader(const WalIndexHeader& h) {
  uint8_t buf[kWalHeaderSize];
  const size_t n = preadFull(walFd_.get(), buf, sizeof buf, 0, walPath_);
  const auto wh = WalHeader::decode({buf, n});
  if (!wh || wh->pageSize != pageSize_ || wh->salt1 != h.salt1() || wh->salt2 != h.salt2() ||
      wh->bigEndianChecksum() != (h.bigEndianChecksum != 0)) {
    throw ReplicaModifiedError("the WAL header of " + walPath_ + " does not match its wal-index (" +
                               describeHeader(h) + ")");
  }
  uint8_t frame[kWalFrameHeaderSize];
  const uint64_t offset = walFrameOffset(h.mxFrame, pageSize_);
  if (preadFull(walFd_.get(), frame, sizeof frame, offset, walPath_) != sizeof frame) {
    throw ReplicaModifiedError(walPath_ + " ends before frame " + std::to_string(h.mxFrame) +
                               " that its wal-index publishes");
  }
  const WalFrameHeader fh = WalFrameHeader::decode(frame);
  if (fh.salt1 != h.salt1() || fh.salt2 != h.salt2() || fh.checksum != h.frameChecksum ||
      !fh.isCommit()) {
    throw ReplicaModifiedError("frame " + std::to_string(h.mxFrame) + " at WAL offset " +
                               std::to_string(offset) + " of " + walPath_ +
                               " is not the commit frame its wal-index publishes");
  }
}

WalAppender::FramePosition WalAppender::prepareWrite(const WalIndexHeader& h) {
  if (h.mxFrame == 0) {
    index_->removeFramesAfter(0);
    return startNewWal(h);
  }
  if (h.pageSize() != pageSize_) {
    throw Error("the wal-index of " + dbPath_ + " records page size " +
                std::to_string(h.pageSize()) + ", the database " + std::to_string(pageSize_));
  }
  checkWalMatchesHeader(h);
  // Hash entries beyond mxFrame, left by a writer that died or gave up before publishing, are
  // removed by the first insert that finds its frame's entry taken (WalIndexFile::insert), as
  // SQLite does: a writer writes frames in order, so any such leftover occupies mxFrame + 1.
  // Scanning every slot at each append instead cost 8% of the replica's CPU.
  FramePosition pos;
  pos.mxFrame = h.mxFrame;
  pos.nextFrame = h.mxFrame + 1;
  pos.bufferStart = walFrameOffset(pos.nextFrame, pageSize_);
  pos.salt = h.salt;
  pos.chain = h.frameChecksum;
  pos.bigEndian = h.bigEndianChecksum != 0;
  return pos;
}

WalAppender::FramePosition WalAppender::startNewWal(const WalIndexHeader& h) {
  uint8_t old[kWalHeaderSize];
  const bool hasOld = preadFull(walFd_.get(), old, sizeof old, 0, walPath_) == sizeof old;
  // The new generation's salts must differ from those of any frame left in the file. A
  // TRUNCATE checkpoint (or a restart whose transaction rolled back) leaves fresh salts in the
  // index that differ from the file's; otherwise derive new ones (docs/sqlite-wal.md §7.3).
  std::array<uint8_t, 8> salt = h.salt;
  const bool indexSaltIsFresh =
      salt != std::array<uint8_t, 8>{} && (!hasOld || std::memcmp(salt.data(), old + 16, 8) != 0);
  if (!indexSaltIsFresh) {
    std::random_device random;
    storeBE32(salt.data(), hasOld ? loadBE32(old + 16) + 1 : random());
    storeBE32(salt.data() + 4, random());
  }
  WalHeader wh;
  wh.pageSize = pageSize_;
  wh.checkpointSeq = hasOld ? loadBE32(old + 12) + 1 : 0;  // informational only
  wh.salt1 = loadBE32(salt.data());
  wh.salt2 = loadBE32(salt.data() + 4);
  const auto bytes = wh.encode();
  options_.fileSystem->pwriteFull(walFd_.get(), bytes.data(), bytes.size(), 0, walPath_);
  // SQLite syncs the header before any frame, so a frame can never outlive its header.
  if (options_.syncWal) options_.fileSystem->fdatasync(walFd_.get(), walPath_);
  FramePosition pos;
  pos.salt = salt;
  pos.chain = wh.checksum;
  pos.newWal = true;
  return pos;
}

void WalAppender::writeFrame(FramePosition& pos, uint32_t page, uint32_t commitSize,
                             const uint8_t* data) {
  if (pos.nextFrame == 0) throw Error("the WAL of " + dbPath_ + " is full (2^32 frames)");
  WalFrameHeader fh;
  fh.pageNumber = page;
  fh.commitSize = commitSize;
  fh.salt1 = loadBE32(pos.salt.data());
  fh.salt2 = loadBE32(pos.salt.data() + 4);
  uint8_t header[kWalFrameHeaderSize];
  fh.encode(header);  // bytes 0..7 are final; the checksum is filled in below
  pos.chain = walChecksum(header, 8, pos.bigEndian, pos.chain);
  pos.chain = walChecksum(data, pageSize_, pos.bigEndian, pos.chain);
  fh.checksum = pos.chain;
  fh.encode(header);
  frameBuffer_.insert(frameBuffer_.end(), header, header + sizeof header);
  frameBuffer_.insert(frameBuffer_.end(), data, data + pageSize_);
  ++pos.nextFrame;
  if (frameBuffer_.size() >= kFrameBufferLimit) flushFrames(pos);
}

void WalAppender::preallocateWal(uint64_t end) {
  // Preallocated blocks let the fdatasync of each publish skip the metadata; without those
  // syncs there is nothing to save, and the size check is a syscall per append.
  if (!options_.syncWal) return;
  const uint64_t size = fileSize(walFd_.get(), walPath_);  // a TRUNCATE checkpoint shrinks it
  if (size >= end) return;
  static constexpr std::array<uint8_t, 64 * 1024> kZeros{};
  const uint64_t target = end + kWalPreallocation;
  for (uint64_t off = size; off < target;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kZeros.size(), target - off));
    options_.fileSystem->pwriteFull(walFd_.get(), kZeros.data(), n, off, walPath_);
    off += n;
  }
}

void WalAppender::flushFrames(FramePosition& pos) {
  if (frameBuffer_.empty()) return;
  options_.fileSystem->pwriteFull(walFd_.get(), frameBuffer_.data(), frameBuffer_.size(),
                                  pos.bufferStart, walPath_);
  pos.bufferStart += frameBuffer_.size();
  frameBuffer_.clear();
}

AppendResult WalAppender::publish(FramePosition& pos, WalIndexHeader h, uint32_t nPage) {
  if (options_.beforePublish) options_.beforePublish();
  h.mxFrame = pos.nextFrame - 1;
  h.nPage = nPage;
  h.frameChecksum = pos.chain;
  h.salt = pos.salt;
  h.bigEndianChecksum = pos.bigEndian ? 1 : 0;
  h.setPageSize(pageSize_);
  h.change += 1;
  h.isInit = 1;
  h.version = kWalVersion;
  publishWalIndexHeader(index_->block(0), h);
  lastSeen_ = h;

  AppendResult r;
  r.status = AppendStatus::Applied;
  r.mxFrame = h.mxFrame;
  r.nPage = nPage;
  r.frameChecksum = pos.chain;
  r.salt = pos.salt;
  r.framesWritten = h.mxFrame - pos.mxFrame;
  r.startedNewWal = pos.newWal;
  return r;
}

AppendResult WalAppender::appendTransactions(uint32_t pageSize,
                                             std::span<const WalTransaction> transactions) {
  // Everything is checked before any lock is taken.
  if (pageSize != pageSize_) {
    throw Error("cannot append " + std::to_string(pageSize) + "-byte pages to " + dbPath_ +
                ", whose page size is " + std::to_string(pageSize_));
  }
  if (snapshot_) throw Error("cannot append to " + dbPath_ + " while a snapshot is applied");
  if (transactions.empty()) throw Error("no transactions to append to " + dbPath_);
  uint64_t frameCount = 0;
  for (size_t t = 0; t < transactions.size(); ++t) {
    const auto& frames = transactions[t].frames;
    const std::string which = "transaction " + std::to_string(t) + " for " + dbPath_;
    if (frames.empty()) throw Error(which + " has no frames");
    for (size_t i = 0; i < frames.size(); ++i) {
      const auto& f = frames[i];
      if (f.header.pageNumber == 0) {
        throw Error(which + " has page number 0 in frame " + std::to_string(i));
      }
      if (f.page.size() != pageSize_) {
        throw Error(which + " has a " + std::to_string(f.page.size()) +
                    "-byte page image in frame " + std::to_string(i));
      }
      const bool last = i + 1 == frames.size();
      if (last && !f.header.isCommit()) throw Error(which + " does not end with a commit frame");
      if (!last && f.header.isCommit()) {
        throw Error(which + " has a commit frame before its end (frame " + std::to_string(i) + ")");
      }
    }
    frameCount += frames.size();
  }
  if (frameCount >= UINT32_MAX) throw Error("too many frames in one append to " + dbPath_);

  OfdLock writeLock;
  bool recovered = false;
  const auto h = lockWithValidHeader(writeLock, recovered);
  if (!h) return {};
  checkUnmodified(*h, recovered);
  frameBuffer_.clear();
  FramePosition pos = prepareWrite(*h);
  preallocateWal(pos.bufferStart + frameCount * (uint64_t{pageSize_} + kWalFrameHeaderSize));
  for (const auto& t : transactions) {
    for (const auto& f : t.frames) {
      writeFrame(pos, f.header.pageNumber, f.header.commitSize, f.page.data());
    }
  }
  flushFrames(pos);
  if (options_.syncWal) options_.fileSystem->fdatasync(walFd_.get(), walPath_);
  uint32_t frame = pos.mxFrame;
  for (const auto& t : transactions) {
    for (const auto& f : t.frames) index_->insert(++frame, f.header.pageNumber, pos.mxFrame);
  }
  return publish(pos, *h, transactions.back().commitSize());
}

void WalAppender::syncWal() {
  options_.fileSystem->fdatasync(walFd_.get(), walPath_);
}

AppendStatus WalAppender::beginSnapshot(uint32_t pageSize) {
  if (pageSize != pageSize_) {
    throw Error("cannot apply a snapshot of " + std::to_string(pageSize) + "-byte pages to " +
                dbPath_ + ", whose page size is " + std::to_string(pageSize_));
  }
  if (snapshot_) throw Error("a snapshot is already being applied to " + dbPath_);
  auto state = std::make_unique<SnapshotState>();
  bool recovered = false;
  const auto h = lockWithValidHeader(state->writeLock, recovered);
  if (!h) return AppendStatus::Busy;
  state->header = *h;
  frameBuffer_.clear();
  try {
    state->pos = prepareWrite(*h);
  } catch (const ReplicaModifiedError& e) {
    // A snapshot is the remedy for a local write, so this must not ask for another one.
    throw Error(std::string("cannot apply a snapshot: ") + e.what());
  }
  state->pending.reserve(pageSize_);
  snapshot_ = std::move(state);
  return AppendStatus::Applied;
}

void WalAppender::checkSnapshotPageOne(const uint8_t* page) {
  if (std::memcmp(page, kDbMagic, sizeof kDbMagic) != 0) {
    throw Error("snapshot image for " + dbPath_ + " does not start with a SQLite header");
  }
  if (decodeDbPageSize(page) != pageSize_) {
    throw Error("snapshot image for " + dbPath_ + " declares page size " +
                std::to_string(decodeDbPageSize(page)) + ", the replica uses " +
                std::to_string(pageSize_));
  }
  if (page[18] != 2 || page[19] != 2) {
    throw Error("snapshot image for " + dbPath_ + " is not in WAL mode (bytes 18/19 are " +
                std::to_string(page[18]) + "/" + std::to_string(page[19]) + ")");
  }
  // SQLite trusts the in-header size only when it is non-zero and the change counter equals
  // the version-valid-for number; then it must equal the image's page count.
  if (loadBE32(page + 28) != 0 && loadBE32(page + 24) == loadBE32(page + 92)) {
    snapshot_->headerPageCount = loadBE32(page + 28);
  }
}

void WalAppender::writeSnapshotPage(const uint8_t* page, uint32_t commitSize) {
  SnapshotState& st = *snapshot_;
  const uint32_t number = st.pagesWritten + 1;
  if (number == 0) throw Error("snapshot image for " + dbPath_ + " has too many pages");
  if (number == 1) checkSnapshotPageOne(page);
  writeFrame(st.pos, number, commitSize, page);
  st.pagesWritten = number;
}

void WalAppender::addSnapshotBytes(std::span<const uint8_t> bytes) {
  if (!snapshot_) throw Error("no snapshot is being applied to " + dbPath_);
  try {
    SnapshotState& st = *snapshot_;
    while (!bytes.empty()) {
      // A complete page is written only once more bytes follow: the last one is the commit.
      if (st.pending.size() == pageSize_) {
        writeSnapshotPage(st.pending.data(), 0);
        st.pending.clear();
      }
      if (st.pending.empty() && bytes.size() > pageSize_) {
        writeSnapshotPage(bytes.data(), 0);
        bytes = bytes.subspan(pageSize_);
        continue;
      }
      const size_t n = std::min<size_t>(pageSize_ - st.pending.size(), bytes.size());
      st.pending.insert(st.pending.end(), bytes.begin(), bytes.begin() + static_cast<long>(n));
      bytes = bytes.subspan(n);
    }
  } catch (...) {
    abortSnapshot();
    throw;
  }
}

AppendResult WalAppender::commitSnapshot() {
  if (!snapshot_) throw Error("no snapshot is being applied to " + dbPath_);
  try {
    SnapshotState& st = *snapshot_;
    if (st.pending.empty()) throw Error("snapshot image for " + dbPath_ + " is empty");
    if (st.pending.size() != pageSize_) {
      throw Error("snapshot image for " + dbPath_ + " ends with a partial page of " +
                  std::to_string(st.pending.size()) + " bytes");
    }
    const uint32_t nPage = st.pagesWritten + 1;
    writeSnapshotPage(st.pending.data(), nPage);
    if (st.headerPageCount != 0 && st.headerPageCount != nPage) {
      throw Error("snapshot image for " + dbPath_ + " holds " + std::to_string(nPage) +
                  " pages but its header says " + std::to_string(st.headerPageCount));
    }
    flushFrames(st.pos);
    if (options_.syncWal) options_.fileSystem->fdatasync(walFd_.get(), walPath_);
    for (uint32_t page = 1; page <= nPage; ++page) {
      index_->insert(st.pos.mxFrame + page, page, st.pos.mxFrame);
    }
    AppendResult r = publish(st.pos, st.header, nPage);
    snapshot_.reset();
    return r;
  } catch (...) {
    abortSnapshot();
    throw;
  }
}

void WalAppender::abortSnapshot() noexcept {
  snapshot_.reset();  // releases WAL_WRITE_LOCK; the frames written stay unpublished
  frameBuffer_.clear();
}

CheckpointResult WalAppender::checkpointPassive() {
  return conn_->checkpoint(SQLITE_CHECKPOINT_PASSIVE);
}

bool WalAppender::checkpointTruncate(std::chrono::milliseconds busyTimeout) {
  if (snapshot_) return false;
  conn_->setBusyTimeout(static_cast<int>(busyTimeout.count()));
  CheckpointResult r;
  try {
    r = conn_->checkpoint(SQLITE_CHECKPOINT_TRUNCATE);
  } catch (...) {
    conn_->setBusyTimeout(kConnectionBusyMs);
    throw;
  }
  conn_->setBusyTimeout(kConnectionBusyMs);
  if (r.busy) return false;
  // Remember the reset header, so that a later recovery (which zeroes iChange) compares against
  // it rather than raising a false alarm. An unexplained header is kept for the next append.
  if (auto now = readHeader()) {
    try {
      checkUnmodified(*now, /*recovered=*/false);
      lastSeen_ = now;
    } catch (const ReplicaModifiedError&) {
    }
  }
  return true;
}

}  // namespace walstream
