#include "backup/restorer.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <thread>
#include <vector>

#include "backup/ordered_fetcher.h"
#include "backup/page_batch.h"
#include "backup/wal_continuity.h"
#include "backup/wal_object.h"
#include "core/error.h"
#include "core/file_util.h"
#include "core/lz4_codec.h"
#include "core/sequential_writeback.h"
#include "core/sqlite_conn.h"
#include "core/wal_format.h"
#include "core/wal_segment.h"

namespace walstream::backup {

namespace {

// Decompressed WAL segments held while their pages wait to be written.
constexpr uint64_t kSegmentBatchBytes = uint64_t{2} << 20;

// The temporary file beside OUT: removed on any failure, renamed into place on success.
class StagedFile {
 public:
  explicit StagedFile(const std::string& out) : path_(out + ".walstream-restore-tmp") {
    ::unlink(path_.c_str());  // a killed restore's leftover
    fd_ = openFile(path_, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  }
  ~StagedFile() {
    fd_.reset();
    if (!kept_) ::unlink(path_.c_str());
  }
  StagedFile(const StagedFile&) = delete;
  StagedFile& operator=(const StagedFile&) = delete;

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  void closeFd() { fd_.reset(); }
  void kept() { kept_ = true; }

 private:
  std::string path_;
  UniqueFd fd_;
  bool kept_ = false;
};

// Reports progress every few MiB.
class ProgressReporter {
 public:
  ProgressReporter(const RestoreOptions& options, uint64_t total) : options_(options) {
    progress_.bytesTotal = total;
  }
  void add(uint64_t bytes) {
    progress_.bytesRead += bytes;
    if (options_.onProgress && progress_.bytesRead - lastReported_ >= (4u << 20)) {
      lastReported_ = progress_.bytesRead;
      options_.onProgress(progress_);
    }
  }
  void finish() {
    if (options_.onProgress) options_.onProgress(progress_);
  }

 private:
  const RestoreOptions& options_;
  RestoreProgress progress_;
  uint64_t lastReported_ = 0;
};

// Consecutive snapshot blocks fetched with one read: [first, end), `bytes` compressed.
struct BlockRun {
  uint64_t first = 0;
  uint64_t end = 0;
  uint64_t offset = 0;  // of block `first` in the object
  uint64_t bytes = 0;
  uint64_t pageBytes = 0;  // what its blocks decode to
};

// Groups the index's blocks into runs of about `runBytes` compressed bytes (at least one
// block), each a single ranged read: a request per 64 KiB block would cost a system call or an
// HTTP request each.
std::vector<BlockRun> blockRuns(const SnapshotIndex& index, uint64_t runBytes) {
  std::vector<BlockRun> runs;
  for (uint64_t b = 0; b < index.blocks.size(); ++b) {
    const SnapshotBlock& block = index.blocks[b];
    const uint64_t pageBytes = index.pagesInBlock(b) * index.pageSize;
    if (!runs.empty() && runs.back().offset + runs.back().bytes == block.offset &&
        runs.back().bytes + block.size <= runBytes) {
      runs.back().end = b + 1;
      runs.back().bytes += block.size;
      runs.back().pageBytes += pageBytes;
    } else {
      runs.push_back({b, b + 1, block.offset, block.size, pageBytes});
    }
  }
  return runs;
}

// Decodes one run of blocks into its pages on a fetcher's reader thread, so that decompression
// and checksums run in parallel with the download and with writing the file.
class BlockRunDecoder : public FetchDecoder {
 public:
  BlockRunDecoder(const SnapshotObjectReader& reader, const std::vector<BlockRun>& runs)
      : reader_(reader), runs_(runs) {}

  size_t decode(size_t job, std::span<const char> fetched, std::span<char> out) override {
    const BlockRun& run = runs_[job];
    const SnapshotIndex& index = reader_.index();
    const auto* in = reinterpret_cast<const uint8_t*>(fetched.data());
    auto* to = reinterpret_cast<uint8_t*>(out.data());
    size_t at = 0;
    for (uint64_t b = run.first; b < run.end; ++b) {
      const SnapshotBlock& block = index.blocks[b];
      at += reader_.decodeBlockInto(b, {in + (block.offset - run.offset), block.size},
                                    {to + at, out.size() - at}, decompressor_);
    }
    return at;
  }

 private:
  const SnapshotObjectReader& reader_;
  const std::vector<BlockRun>& runs_;
  Lz4Decompressor decompressor_;
};

void writeSnapshotImage(storage::ObjectStore& store, const RestorePlan& plan, int fd,
                        const std::string& path, const RestoreOptions& options,
                        ProgressReporter& progress) {
  SnapshotObjectReader reader(store, plan.snapshotKey);
  // A run takes its compressed bytes and its pages in the fetcher's ring: a run of half a
  // reader's share of the ring keeps every reader busy within it.
  const uint64_t share = options.maxBytesAhead / std::max<size_t>(options.parallel, 1);
  const std::vector<BlockRun> runs =
      blockRuns(reader.index(), std::clamp<uint64_t>(share / 2, 64 << 10, 4 << 20));
  std::vector<FetchJob> jobs;
  for (const BlockRun& r : runs) jobs.push_back({plan.snapshotKey, r.offset, r.bytes, r.pageBytes});
  OrderedFetcher fetcher(store, std::move(jobs), options.parallel, options.maxBytesAhead,
                         [&] { return std::make_unique<BlockRunDecoder>(reader, runs); });
  // The image is written front to back: its writeback starts as it goes, so the fsync at the
  // end has little left. Its pages stay cached for the integrity check.
  SequentialWriteback writeback(fd, path, SequentialWriteback::kDefaultWindow,
                                SequentialWriteback::Cache::kKeep);
  uint64_t end = 0;
  for (const BlockRun& run : runs) {
    const std::optional<std::span<const char>> pages = fetcher.next();
    pwriteFull(fd, pages->data(), pages->size(), end, path);
    end += pages->size();
    writeback.wrote(end);
    progress.add(run.bytes);
  }
}

// Applies WAL objects in order after the snapshot, checking the chain, up to the target.
class WalReplay {
 public:
  WalReplay(const RestorePlan& plan, const RestoreTarget& target, int fd, std::string path)
      : target_(target),
        snapshotAt_(plan.snapshot.position),
        at_(plan.snapshot.position),
        pageSize_(plan.snapshot.pageSize),
        pageCount_(plan.snapshot.pageCount),
        capturedAtMs_(plan.snapshot.capturedAtMs),
        pages_(fd, std::move(path), plan.snapshot.pageSize) {
    if (plan.snapshot.chain) chain_ = *plan.snapshot.chain;
  }

  // Applies one object; returns false once the target is reached (nothing more to apply).
  bool apply(const WalObjectEntry& entry, std::span<const char> bytes, const std::string& url);
  // Writes what the transactions applied so far left pending. The file holds them afterwards.
  void finish() { pages_.flush(); }

  const Pos& position() const { return at_; }
  uint64_t pageCount() const { return pageCount_; }
  int64_t capturedAtMs() const { return capturedAtMs_; }
  uint64_t transactions() const { return transactions_; }
  // With a position target: whether the restored state is the last commit at or before it
  // (and not just the end of a backup that stops short of it).
  bool reachedTarget() const { return reachedTarget_ || (target_.pos && *target_.pos == at_); }

 private:
  // Applies the transactions of one segment; false once the target is reached.
  bool applySegment(const WalObjectSegment& segment, std::span<const uint8_t> frame);
  // Puts the transaction's pages in pages_.
  void addTransaction(const WalTransaction& txn);
  // Room for a decompressed segment in segments_, after flushing the pages that point into it
  // when it is full.
  std::span<uint8_t> segmentRoom(uint64_t bytes);

  const RestoreTarget& target_;
  const Pos snapshotAt_;
  Pos at_;  // the end of what the file holds
  uint32_t pageSize_;
  uint64_t pageCount_;
  int64_t capturedAtMs_;
  WalChainState chain_;
  uint64_t transactions_ = 0;
  bool reachedTarget_ = false;
  // Decompressed segments, back to back, whose pages pages_ holds until it is flushed: the
  // pages a run of transactions rewrote are written once (page_batch.h). At least
  // kSegmentBatchBytes, more for a larger segment.
  FetchBuffer segments_;
  uint64_t segmentsUsed_ = 0;
  PageBatch pages_;
  Lz4Decompressor decompressor_{false};  // the WAL chain checks every byte
};

bool WalReplay::apply(const WalObjectEntry& entry, std::span<const char> bytes,
                      const std::string& url) {
  const std::string where = url + "/" + entry.key;
  WalObjectView view;
  try {
    view = parseWalObject({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
  } catch (const Error& e) {
    throw Error(where + ": " + e.what());
  }
  if (view.header.start != entry.start) {
    throw Error(where + ": its header says it starts at " + view.header.start.str());
  }
  if (endsBeforeSnapshot(view.header, at_, snapshotAt_)) return true;
  checkWalObjectFollows(view.header, at_, where);
  if (view.header.start.index == at_.index + 1) at_ = view.header.start;  // the WAL restarted
  for (size_t i = 0; i < view.segments.size(); ++i) {
    const WalObjectSegment& s = view.header.segments[i];
    if (segmentApplied(view.header, s, at_)) continue;
    try {
      if (!applySegment(s, view.segments[i])) return false;
    } catch (const Error& e) {
      throw Error(where + ": segment at WAL offset " + std::to_string(s.offset) + ": " + e.what());
    }
  }
  return true;
}

std::span<uint8_t> WalReplay::segmentRoom(uint64_t bytes) {
  if (segmentsUsed_ + bytes > segments_.size()) {
    pages_.flush();  // nothing points into segments_ any more
    segmentsUsed_ = 0;
    if (bytes > segments_.size()) segments_.resize(std::max(kSegmentBatchBytes, bytes));
  }
  auto* at = reinterpret_cast<uint8_t*>(segments_.bytes().data()) + segmentsUsed_;
  segmentsUsed_ += bytes;
  return {at, bytes};
}

bool WalReplay::applySegment(const WalObjectSegment& segment, std::span<const uint8_t> frame) {
  if (segment.offset != at_.offset) {
    throw Error("does not start at " + at_.str() + ", where the restored state ends");
  }
  if (target_.timestampMs && segment.capturedAtMs > *target_.timestampMs) return false;
  if (segment.walBytes > kMaxWalSegmentBytes) throw Error("larger than any segment may be");
  const std::span<uint8_t> room = segmentRoom(segment.walBytes);
  const size_t n = decompressor_.decompress(frame, room);
  if (n != segment.walBytes) throw Error("decompresses to " + std::to_string(n) + " bytes");
  const ParsedWalSegment parsed = parseWalSegment(room, segment.offset, chain_);
  if (parsed.header && parsed.header->pageSize != pageSize_) {
    throw Error("its WAL header says page size " + std::to_string(parsed.header->pageSize) +
                ", the snapshot " + std::to_string(pageSize_));
  }
  uint64_t end = segment.offset + (parsed.header ? kWalHeaderSize : 0);
  for (const WalTransaction& txn : parsed.transactions) {
    end += txn.frames.size() * (uint64_t{pageSize_} + kWalFrameHeaderSize);
    if (target_.pos && target_.pos->index == at_.index && end > target_.pos->offset) {
      reachedTarget_ = true;  // the last commit at or before the target is applied
      return false;
    }
    addTransaction(txn);
    at_.offset = end;
    capturedAtMs_ = segment.capturedAtMs;
    ++transactions_;
  }
  at_.offset = parsed.endOffset;
  if (target_.pos && *target_.pos == at_) reachedTarget_ = true;
  return !reachedTarget_;
}

void WalReplay::addTransaction(const WalTransaction& txn) {
  const uint32_t size = txn.commitSize();
  for (const WalFrameView& f : txn.frames) {
    // Pages past the commit's size are spills of a transaction that then shrank the database.
    if (f.header.pageNumber > size) continue;
    pages_.put(f.header.pageNumber, f.page);
  }
  pageCount_ = size;
}

void checkIntegrity(const std::string& path) {
  // immutable=1: read the file as it is, with no -wal or -shm created beside it. Not mapped
  // (mmap_size), which would halve the check's time on a large database, but count the whole
  // file in the restore's resident memory.
  SqliteConnection check("file:" + path + "?immutable=1", SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
  const std::string result = check.queryText("PRAGMA integrity_check");
  if (result != "ok")
    throw Error(path + ": the restored database fails integrity_check: " + result);
}

// Makes the staged file durable and checks its integrity at the same time: the fsync waits on
// the disk, the check on the processor, and both only read the file.
void syncAndCheck(StagedFile& staged) {
  std::exception_ptr syncError;
  {
    std::jthread sync([&] {
      try {
        fsyncFd(staged.fd(), staged.path());
      } catch (...) {
        syncError = std::current_exception();
      }
    });
    checkIntegrity(staged.path());
  }  // joins
  if (syncError) std::rethrow_exception(syncError);
  staged.closeFd();
}

// Moves the staged file to OUT, removing a replaced database's -wal and -shm first: SQLite
// would otherwise apply the old database's WAL to the new file.
void install(StagedFile& staged, const std::string& out) {
  for (const char* suffix : {"-wal", "-shm"}) ::unlink((out + suffix).c_str());
  if (::rename(staged.path().c_str(), out.c_str()) != 0) throwErrno("cannot rename to", out);
  staged.kept();
  fsyncDir(dirName(out));
}

}  // namespace

RestoreResult restoreDatabase(storage::ObjectStore& store, const std::string& outPath,
                              const RestoreOptions& options) {
  if (!options.replaceExisting && pathExists(outPath)) {
    throw Error(outPath + " exists; pass --if-exists replace to overwrite it");
  }
  const RestorePlan plan = planRestore(store, options.target);
  uint64_t total = plan.snapshot.blocks.empty()
                       ? 0
                       : plan.snapshot.blocks.back().offset + plan.snapshot.blocks.back().size;
  for (const WalObjectEntry& w : plan.walObjects) total += w.size;
  ProgressReporter progress(options, total);

  StagedFile staged(outPath);
  writeSnapshotImage(store, plan, staged.fd(), staged.path(), options, progress);
  WalReplay replay(plan, options.target, staged.fd(), staged.path());
  RestoreResult result;
  {
    std::vector<FetchJob> jobs;
    for (const WalObjectEntry& w : plan.walObjects) jobs.push_back({w.key, 0, w.size});
    OrderedFetcher fetcher(store, std::move(jobs), options.parallel, options.maxBytesAhead);
    for (const WalObjectEntry& w : plan.walObjects) {
      const std::optional<std::span<const char>> bytes = fetcher.next();
      ++result.walObjects;
      progress.add(bytes->size());
      if (!replay.apply(w, *bytes, store.url())) break;
    }
    replay.finish();
  }
  if (options.target.pos && !replay.reachedTarget()) {
    throw Error(store.url() + ": the backup ends at " + replay.position().str() +
                ", before position " + options.target.pos->str());
  }
  if (::ftruncate(staged.fd(), static_cast<off_t>(replay.pageCount() * plan.snapshot.pageSize)) !=
      0) {
    throwErrno("cannot truncate", staged.path());
  }
  syncAndCheck(staged);
  install(staged, outPath);
  progress.finish();

  result.position = replay.position();
  result.capturedAtMs = replay.capturedAtMs();
  result.snapshotKey = plan.snapshotKey;
  result.transactions = replay.transactions();
  result.pageCount = replay.pageCount();
  result.pageSize = plan.snapshot.pageSize;
  return result;
}

}  // namespace walstream::backup
