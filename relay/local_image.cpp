#include "relay/local_image.h"

#include <fcntl.h>
#include <sqlite3.h>

#include <algorithm>
#include <stdexcept>

#include "core/byte_order.h"
#include "core/error.h"
#include "core/wal_format.h"
#include "server/capture/database_pages.h"

namespace walstream::relay {

namespace {

// LOCAL_DB's files and the overlay, shared by nothing but one reader.
struct Image {
  std::shared_ptr<ImageLease> lease;
  std::string dbPath;
  std::string walPath;
  UniqueFd dbFd;
  UniqueFd walFd;
  ImageState state;
  uint64_t pages = 0;
  std::map<uint32_t, uint64_t> overlay;  // page number -> offset of its latest page in the WAL
};

class LocalImageReader final : public SnapshotReader {
 public:
  explicit LocalImageReader(Image image) : im_(std::move(image)) {}

  Pos position() const override { return im_.state.pos; }
  uint32_t pageSize() const override { return pageSize_; }
  uint64_t size() const override { return im_.pages * pageSize_; }
  std::optional<WalChainState> chain() const override {
    return im_.state.pos.offset == 0 ? std::nullopt : im_.state.chain;
  }
  void rewind() override { next_ = 0; }

  size_t readInto(std::span<char> out) override {
    if (out.size() < pageSize_) throw std::logic_error("snapshot read into less than a page");
    std::lock_guard hold(im_.lease->mu);
    if (im_.lease->revoked) {
      throw Error("snapshot of " + im_.dbPath + " at " + im_.state.pos.str() +
                  " abandoned: the replica replaced its database while it was read");
    }
    const uint64_t n = std::min<uint64_t>(out.size() / pageSize_, im_.pages - next_);
    const uint64_t end = next_ + n;
    char* dst = out.data();
    while (next_ < end) {
      const uint64_t run = fileRun(next_ + 1, end);
      if (run == 0) {
        readPage(next_ + 1, dst);
        dst += pageSize_;
        ++next_;
        continue;
      }
      // Pages the WAL does not replace, read from the file with one pread: per-page reads
      // would cost a system call per page of a bootstrap.
      const size_t bytes = static_cast<size_t>(run * pageSize_);
      if (preadFull(im_.dbFd.get(), dst, bytes, next_ * pageSize_, im_.dbPath) != bytes) {
        throw Error("snapshot of " + im_.dbPath + " at " + im_.state.pos.str() + ": pages " +
                    std::to_string(next_ + 1) + ".." + std::to_string(next_ + run) +
                    " are neither in the WAL nor all in the database file");
      }
      dst += bytes;
      next_ += run;
    }
    return static_cast<size_t>(n * pageSize_);
  }

 private:
  // How many pages from `page` on (before page `end` + 1) come from the database file in one
  // piece: up to the next page the WAL replaces, or the lock-byte page. 0: `page` is one of those.
  uint64_t fileRun(uint64_t page, uint64_t end) const {
    if (page == pendingPage_ || im_.overlay.contains(static_cast<uint32_t>(page))) return 0;
    uint64_t last = end;
    if (const auto it = im_.overlay.upper_bound(static_cast<uint32_t>(page));
        it != im_.overlay.end()) {
      last = std::min<uint64_t>(last, it->first - 1);
    }
    if (pendingPage_ > page) last = std::min(last, pendingPage_ - 1);
    return last - page + 1;
  }

  void readPage(uint64_t page, char* dst) {
    if (page == pendingPage_) {
      std::fill_n(dst, pageSize_, '\0');
      return;
    }
    const auto it = im_.overlay.find(static_cast<uint32_t>(page));
    const bool inWal = it != im_.overlay.end();
    const int fd = inWal ? im_.walFd.get() : im_.dbFd.get();
    const uint64_t offset = inWal ? it->second : (page - 1) * pageSize_;
    const std::string& path = inWal ? im_.walPath : im_.dbPath;
    if (preadFull(fd, dst, pageSize_, offset, path) != pageSize_) {
      throw Error("snapshot of " + im_.dbPath + " at " + im_.state.pos.str() + ": page " +
                  std::to_string(page) + " is neither in the WAL nor in the database file");
    }
  }

  Image im_;
  const uint32_t pageSize_ = im_.state.pageSize;
  const uint64_t pendingPage_ = pendingBytePage(pageSize_);
  uint64_t next_ = 0;  // pages returned so far
};

// Frames 1..mxFrame of LOCAL_DB's WAL into the overlay; the commit size of the last.
void overlayLocalWal(Image& im, const std::function<void()>& step) {
  const uint32_t mx = im.state.localMxFrame;
  uint8_t h[kWalHeaderSize];
  std::optional<WalHeader> header;
  if (preadFull(im.walFd.get(), h, sizeof h, 0, im.walPath) == sizeof h) {
    header = WalHeader::decode({h, sizeof h});
  }
  if (!header || header->pageSize != im.state.pageSize ||
      loadBE32(h + 16) != loadBE32(im.state.localSalt.data()) ||
      loadBE32(h + 20) != loadBE32(im.state.localSalt.data() + 4)) {
    throw Error(im.walPath + " is not the WAL recorded at " + im.state.pos.str());
  }
  uint8_t f[kWalFrameHeaderSize];
  for (uint32_t frame = 1; frame <= mx; ++frame) {
    if (frame % 4096 == 0) step();
    const uint64_t at = walFrameOffset(frame, im.state.pageSize);
    if (preadFull(im.walFd.get(), f, sizeof f, at, im.walPath) != sizeof f) {
      throw Error(im.walPath + " ends before frame " + std::to_string(frame) + " of " +
                  std::to_string(mx));
    }
    const WalFrameHeader fh = WalFrameHeader::decode(f);
    if (fh.salt1 != header->salt1 || fh.salt2 != header->salt2) {
      throw Error(im.walPath + ": frame " + std::to_string(frame) + " is not of the WAL recorded");
    }
    im.overlay[fh.pageNumber] = at + kWalFrameHeaderSize;
    if (frame == mx) im.pages = fh.commitSize;
  }
  if (im.pages == 0) {
    throw Error(im.walPath + ": frame " + std::to_string(mx) + " is not a commit frame");
  }
}

}  // namespace

std::shared_ptr<ImageLease> beginImageRead(const std::string& localPath, const Pos& pos) {
  auto lease = std::make_shared<ImageLease>();
  auto reader = std::make_unique<SqliteConnection>(localPath, SQLITE_OPEN_READONLY);
  reader->setPersistWal(true);
  reader->setBusyTimeout(1000);
  reader->exec("BEGIN");
  reader->queryInt("SELECT count(*) FROM sqlite_master");
  lease->connection = std::move(reader);
  lease->pos = pos;
  return lease;
}

std::unique_ptr<SnapshotReader> openLocalImage(const std::string& localPath,
                                               std::shared_ptr<ImageLease> lease,
                                               const ImageState& state,
                                               const std::function<bool()>& wanted) {
  auto step = [&] {
    if (wanted && !wanted()) {
      throw SnapshotAbandoned("the snapshot of " + localPath + " was abandoned while being opened");
    }
  };
  Image im;
  im.lease = std::move(lease);
  im.dbPath = localPath;
  im.walPath = localPath + "-wal";
  im.state = state;
  // Opened once for the image's life and never closed while the lease's connection lives on
  // another descriptor: closing a descriptor drops the process's POSIX locks on the file, and
  // the appender keeps its own on the database's SHARED range as OFD locks, which survive.
  im.dbFd = openFile(im.dbPath, O_RDONLY | O_CLOEXEC);
  if (state.localMxFrame == 0) {
    // The database file alone holds the state: read lock 0 keeps checkpoints out of it.
    im.pages = databasePageCount(im.dbFd.get(), im.dbPath, state.pageSize);
  } else {
    im.walFd = openFile(im.walPath, O_RDONLY | O_CLOEXEC);
    overlayLocalWal(im, step);
  }
  step();
  // Pages past the commit size were written before the database shrank: not part of the image.
  std::erase_if(im.overlay, [&](const auto& kv) { return kv.first > im.pages; });
  {
    std::lock_guard hold(im.lease->mu);
    if (im.lease->revoked) {
      throw Error("the snapshot of " + localPath + " was revoked while being opened");
    }
  }
  return std::make_unique<LocalImageReader>(std::move(im));
}

}  // namespace walstream::relay
