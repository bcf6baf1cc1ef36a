// Database::openSnapshot and the reader it returns (the protocol is in snapshot.h).
#include <sqlite3.h>

#include <algorithm>
#include <functional>
#include <map>
#include <stdexcept>

#include "core/byte_order.h"
#include "core/error.h"
#include "core/lz4_codec.h"
#include "core/sqlite_conn.h"
#include "core/wal_segment.h"
#include "server/capture/database.h"
#include "server/capture/database_pages.h"

namespace walstream {

namespace {

std::string closedWhileOpening(const std::string& path) {
  return "capture of " + path + " was closed while a snapshot was being opened";
}

// Every frame of X's WAL index up to X, latest wins, and the commit size and checksum chain at
// X. The segments must cover the index from its start to X without a hole: a missing one would
// leave older page versions from the database file in the image. `step` runs before each
// segment (it throws to stop).
struct IndexOverlay {
  std::map<uint32_t, std::string> pages;  // page number -> content as of X
  uint64_t commitSize = 0;                // the database's size in pages at X (0 at offset 0)
  WalChainState chain;
};

IndexOverlay overlayIndex(const ShadowWal& shadow, const Pos& x, const std::string& path,
                          const std::function<void()>& step) {
  IndexOverlay out;
  uint64_t covered = 0;
  for (const SegmentInfo& s : shadow.listSegments(x.generation, x.index)) {
    if (s.pos.offset >= x.offset) break;
    step();
    if (s.pos.offset != covered) {
      throw Error("the shadow WAL of " + path + " has no segment at " +
                  Pos{x.generation, x.index, covered}.str() + " for a snapshot at " + x.str());
    }
    std::string raw = lz4Decompress(asBytes(shadow.readSegmentData(s)), kMaxWalSegmentBytes);
    ParsedWalSegment seg = parseWalSegment(asBytes(raw), s.pos.offset, out.chain);
    covered = seg.endOffset;
    for (const WalTransaction& t : seg.transactions) {
      for (const WalFrameView& f : t.frames) {
        out.pages[f.header.pageNumber].assign(reinterpret_cast<const char*>(f.page.data()),
                                              f.page.size());
      }
      out.commitSize = t.commitSize();
    }
  }
  if (covered != x.offset) {
    throw Error("the shadow WAL of " + path + " ends at " +
                Pos{x.generation, x.index, covered}.str() + ", before the snapshot's " + x.str());
  }
  return out;
}

}  // namespace

// Everything about one snapshot that does not depend on how far it was read: shared, read-only,
// by every reader of that image (Database::openSnapshot with sharing).
struct Database::SnapshotImage {
  std::shared_ptr<SnapshotLease> lease;  // its read transaction: mark <= pos
  int dbFd = -1;
  std::string dbPath;
  Pos pos;
  uint32_t pageSize = 0;
  uint64_t pages = 0;
  std::map<uint32_t, std::string> overlay;  // page number -> image as of pos
  std::optional<WalChainState> chain;
};

class DatabaseSnapshotReader final : public SnapshotReader {
 public:
  explicit DatabaseSnapshotReader(std::shared_ptr<const Database::SnapshotImage> image)
      : image_(std::move(image)) {}

  Pos position() const override { return image_->pos; }
  uint32_t pageSize() const override { return pageSize_; }
  uint64_t size() const override { return image_->pages * pageSize_; }
  std::optional<WalChainState> chain() const override { return image_->chain; }
  void rewind() override { next_ = 0; }

  size_t readInto(std::span<char> out) override {
    if (out.size() < pageSize_) throw std::logic_error("snapshot read into less than a page");
    const Database::SnapshotImage& im = *image_;
    // Pages are read only while the read transaction is known to hold (Database::SnapshotLease).
    std::lock_guard hold(im.lease->mu);
    if (im.lease->revoked) {
      throw Error("snapshot of " + im.dbPath + " at " + im.pos.str() +
                  " abandoned: capture was closed while it was read");
    }
    const uint64_t n = std::min<uint64_t>(out.size() / pageSize_, im.pages - next_);
    const uint64_t end = next_ + n;
    char* dst = out.data();
    // Runs of pages between overlay entries are read with one pread each: per-page reads cost
    // a system call per 4 KiB, which dominated the primary's share of a bootstrap.
    auto it = im.overlay.lower_bound(static_cast<uint32_t>(next_ + 1));
    while (next_ < end) {
      uint64_t runEnd =
          it == im.overlay.end() ? end : std::min<uint64_t>(end, uint64_t{it->first} - 1);
      if (next_ + 1 == pendingPage_ && runEnd > next_) {
        std::fill_n(dst, pageSize_, '\0');
        dst += pageSize_;
        ++next_;
        continue;
      }
      if (runEnd > next_) {
        if (next_ < pendingPage_ && runEnd >= pendingPage_) runEnd = pendingPage_ - 1;
        const size_t bytes = static_cast<size_t>((runEnd - next_) * pageSize_);
        if (preadFull(im.dbFd, dst, bytes, next_ * pageSize_, im.dbPath) != bytes) {
          throw Error("snapshot of " + im.dbPath + " at " + im.pos.str() + ": pages " +
                      std::to_string(next_ + 1) + ".." + std::to_string(runEnd) +
                      " are neither in the WAL nor all in the database file");
        }
        dst += bytes;
        next_ = runEnd;
        continue;
      }
      // Page next_ + 1 is in the overlay.
      std::copy(it->second.begin(), it->second.end(), dst);
      dst += pageSize_;
      ++next_;
      ++it;
    }
    return static_cast<size_t>(n * pageSize_);
  }

 private:
  const std::shared_ptr<const Database::SnapshotImage> image_;
  const uint32_t pageSize_ = image_->pageSize;
  const uint64_t pendingPage_ = pendingBytePage(pageSize_);
  uint64_t next_ = 0;  // pages returned so far
};

std::unique_ptr<SnapshotReader> Database::openSnapshot(std::chrono::milliseconds shareWithin,
                                                       const std::function<bool()>& wanted) {
  if (shareWithin.count() <= 0) return std::make_unique<DatabaseSnapshotReader>(openImage(wanted));
  std::lock_guard opening(sharedSnapshotOpen_);
  {
    std::lock_guard lock(mu_);
    if (!running_) throw Error("capture of " + path_ + " is not running");
    std::shared_ptr<SnapshotImage> shared = sharedSnapshot_.lock();
    if (shared && std::chrono::steady_clock::now() < sharedSnapshotAt_ + shareWithin &&
        shared->pos.generation == live_.generation) {
      // Revocation (closeCapture) forgets sharedSnapshot_ under mu_ first, so an image found
      // here was not revoked yet; a reader finds out at its next read if it is later.
      return std::make_unique<DatabaseSnapshotReader>(std::move(shared));
    }
  }
  std::shared_ptr<SnapshotImage> image = openImage(wanted);
  {
    std::lock_guard lock(mu_);
    if (running_) {
      sharedSnapshot_ = image;
      sharedSnapshotAt_ = std::chrono::steady_clock::now();
    }
  }
  return std::make_unique<DatabaseSnapshotReader>(std::move(image));
}

std::shared_ptr<Database::SnapshotLease> Database::beginSnapshotRead() {
  auto lease = std::make_shared<SnapshotLease>(metrics_.snapshotsOpen);
  {
    std::lock_guard lock(mu_);
    if (!running_) throw Error("capture of " + path_ + " is not running");
    std::erase_if(leases_, [](const std::weak_ptr<SnapshotLease>& w) { return w.expired(); });
    // The snapshot's position is at or past this one (same generation, or the lease is moot).
    lease->generation = position_.generation;
    lease->index = position_.index;
    leases_.push_back(lease);
  }
  std::lock_guard hold(lease->mu);
  if (lease->revoked) throw Error(closedWhileOpening(path_));
  auto reader = std::make_unique<SqliteConnection>(path_, SQLITE_OPEN_READONLY);
  reader->setPersistWal(true);
  reader->setBusyTimeout(static_cast<int>(options_.busyTimeout.count()));
  reader->exec("BEGIN");
  reader->queryInt("SELECT count(*) FROM sqlite_master");
  lease->connection = std::move(reader);
  return lease;
}

std::shared_ptr<Database::SnapshotImage> Database::openImage(const std::function<bool()>& wanted) {
  // Every step below can take long on a large database; the read transaction goes with `lease`.
  auto checkWanted = [&] {
    if (wanted && !wanted()) {
      throw SnapshotAbandoned("the snapshot of " + path_ + " was abandoned while being opened");
    }
  };
  checkWanted();
  // Begin the read transaction first, then wait for a sync: the position X that sync reaches
  // is at or past the transaction's end mark, so no checkpoint can copy a frame newer than X
  // into the database file while the reader lives (snapshot.h).
  std::shared_ptr<SnapshotLease> lease = beginSnapshotRead();
  std::optional<Pos> at = syncBarrier(options_.busyTimeout * 10);
  if (!at) throw Error("capture of " + path_ + " did not complete a sync for the snapshot");
  const Pos x = *at;
  checkWanted();
  {
    std::lock_guard lock(mu_);
    if (lease->generation != x.generation) {
      lease->generation = x.generation;
      lease->index = x.index;
    }
  }
  auto image = std::make_shared<SnapshotImage>();
  image->pageSize = pageSize();
  IndexOverlay overlay = overlayIndex(shadow_, x, path_, checkWanted);
  if (x.offset == 0) {
    // Nothing of this index yet: the database file holds the whole state (a restart or a new
    // generation happens only with every frame backfilled), and its header the page count. The
    // file's size can be larger (SQLITE_FCNTL_CHUNK_SIZE preallocates).
    overlay.commitSize = databasePageCount(dbFd_.get(), path_, image->pageSize);
  } else {
    image->chain = overlay.chain;
  }
  // Pages past the commit size were spilled before the database shrank: not part of the image.
  std::erase_if(overlay.pages, [&](const auto& kv) { return kv.first > overlay.commitSize; });
  {
    // Revoked meanwhile: the barrier's position may be from a later capture, after the lock
    // that made it valid for this read transaction was dropped.
    std::lock_guard hold(lease->mu);
    if (lease->revoked) throw Error(closedWhileOpening(path_));
  }
  image->lease = std::move(lease);
  image->dbFd = dbFd_.get();
  image->dbPath = path_;
  image->pos = x;
  image->pages = overlay.commitSize;
  image->overlay = std::move(overlay.pages);
  return image;
}

}  // namespace walstream
