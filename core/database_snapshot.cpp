// Database::openSnapshot and the reader it returns (the protocol is in snapshot.h).
#include <sqlite3.h>

#include <algorithm>
#include <map>
#include <stdexcept>

#include "core/database.h"
#include "core/error.h"
#include "core/lz4_codec.h"
#include "core/sqlite_conn.h"
#include "core/wal_segment.h"

namespace walstream {

class DatabaseSnapshotReader final : public SnapshotReader {
 public:
  DatabaseSnapshotReader(std::unique_ptr<SqliteConnection> reader, int dbFd, std::string dbPath,
                         Pos pos, uint32_t pageSize, uint64_t pages,
                         std::map<uint32_t, std::string> overlay)
      : reader_(std::move(reader)),
        dbFd_(dbFd),
        dbPath_(std::move(dbPath)),
        pos_(pos),
        pageSize_(pageSize),
        pages_(pages),
        overlay_(std::move(overlay)) {}

  Pos position() const override { return pos_; }
  uint32_t pageSize() const override { return pageSize_; }
  uint64_t size() const override { return pages_ * pageSize_; }

  size_t readInto(std::span<char> out) override {
    if (out.size() < pageSize_) throw std::logic_error("snapshot read into less than a page");
    const uint64_t n = std::min<uint64_t>(out.size() / pageSize_, pages_ - next_);
    const uint64_t end = next_ + n;
    char* dst = out.data();
    // Runs of pages between overlay entries are read with one pread each: per-page reads cost
    // a system call per 4 KiB, which dominated the primary's share of a bootstrap.
    auto it = overlay_.lower_bound(static_cast<uint32_t>(next_ + 1));
    while (next_ < end) {
      const uint64_t runEnd =
          it == overlay_.end() ? end : std::min<uint64_t>(end, uint64_t{it->first} - 1);
      if (runEnd > next_) {
        const size_t bytes = static_cast<size_t>((runEnd - next_) * pageSize_);
        if (preadFull(dbFd_, dst, bytes, next_ * pageSize_, dbPath_) != bytes) {
          throw Error("snapshot of " + dbPath_ + " at " + pos_.str() + ": pages " +
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
  std::unique_ptr<SqliteConnection> reader_;  // holds the read transaction (mark <= pos_)
  const int dbFd_;
  const std::string dbPath_;
  const Pos pos_;
  const uint32_t pageSize_;
  const uint64_t pages_;
  const std::map<uint32_t, std::string> overlay_;  // page number -> image as of pos_
  uint64_t next_ = 0;                              // pages returned so far
};

std::unique_ptr<SnapshotReader> Database::openSnapshot() {
  {
    std::lock_guard lock(mu_);
    if (!running_) throw Error("capture of " + path_ + " is not running");
  }
  // Begin the read transaction first, then wait for a sync: the position X that sync reaches
  // is at or past the transaction's end mark, so no checkpoint can copy a frame newer than X
  // into the database file while the reader lives (snapshot.h).
  auto reader = std::make_unique<SqliteConnection>(path_, SQLITE_OPEN_READONLY);
  reader->setPersistWal(true);
  reader->setBusyTimeout(static_cast<int>(options_.busyTimeout.count()));
  reader->exec("BEGIN");
  reader->queryInt("SELECT count(*) FROM sqlite_master");
  std::optional<Pos> at = syncBarrier(options_.busyTimeout * 10);
  if (!at) throw Error("capture of " + path_ + " did not complete a sync for the snapshot");
  const Pos x = *at;
  const uint32_t pageSize = this->pageSize();

  // Overlay: every frame of X's index up to X, latest wins.
  std::map<uint32_t, std::string> overlay;
  uint64_t pages = 0;
  WalChainState chain;
  for (const SegmentInfo& s : shadow_.listSegments(x.generation, x.index)) {
    if (s.pos.offset >= x.offset) break;
    std::string raw = lz4Decompress(asBytes(shadow_.readSegmentData(s)), 1ull << 34);
    ParsedWalSegment seg = parseWalSegment(asBytes(raw), s.pos.offset, chain);
    for (const WalTransaction& t : seg.transactions) {
      for (const WalFrameView& f : t.frames) {
        overlay[f.header.pageNumber].assign(reinterpret_cast<const char*>(f.page.data()),
                                            f.page.size());
      }
      pages = t.commitSize();
    }
  }
  if (x.offset == 0) {
    // Nothing of this index yet: the database file holds the whole state (a restart or a new
    // generation happens only with every frame backfilled).
    pages = (fileSize(dbFd_.get(), path_) + pageSize - 1) / pageSize;
  }
  // Pages past the commit size were spilled before the database shrank: not part of the image.
  std::erase_if(overlay, [&](const auto& kv) { return kv.first > pages; });
  return std::make_unique<DatabaseSnapshotReader>(std::move(reader), dbFd_.get(), path_, x,
                                                  pageSize, pages, std::move(overlay));
}

}  // namespace walstream
