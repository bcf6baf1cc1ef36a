// A real backup in a directory store for the VFS's unit tests, written with the backup library's
// own writers from the bytes SQLite wrote: a WAL-mode database with a table
// t(id INTEGER PRIMARY KEY, b BLOB), a snapshot object of it after a
// checkpoint, then WAL objects of the commits after it, one segment per transaction, as the
// primary's backup lays them out (docs/backup.md §3, §4). Header-only, so that the test support
// library itself does not link backup.
#pragma once

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "backup/layout.h"
#include "backup/snapshot_object.h"
#include "backup/wal_object.h"
#include "core/error.h"
#include "core/file_util.h"
#include "core/lz4_codec.h"
#include "core/sqlite_conn.h"
#include "storage/directory_store.h"
#include "tests/support/sqlite_fixture.h"
#include "tests/support/temp_dir.h"

namespace walstream::test {

class BackupFixture {
 public:
  static constexpr uint64_t kGeneration = 0x0123456789abcdef;

  // `name`: the database's file in `dir`; the store is DIR/backup whatever the name, so that two
  // fixtures of one directory with other generations write one backup.
  explicit BackupFixture(const TempDir& dir, uint64_t generation = kGeneration,
                         const std::string& name = "app.db")
      : generation_(generation),
        dbPath_(dir.file(name)),
        root_(dir.file("backup")),
        store_(root_),
        db_(openWalDatabase(dbPath_)),
        // The file stays open: closing a descriptor on it would drop SQLite's POSIX locks.
        dbFd_(openFile(dbPath_, O_RDONLY | O_CLOEXEC, 0)) {
    db_->exec("CREATE TABLE t(id INTEGER PRIMARY KEY, b BLOB)");
  }

  SqliteConnection& db() { return *db_; }
  storage::DirectoryStore& store() { return store_; }
  std::string url() const { return "file://" + root_; }
  const std::string& dbPath() const { return dbPath_; }
  Pos position() const { return {generation_, index_, backedUp_}; }

  // Checkpoints the WAL into the database file, truncating it (the WAL restarts: a new index),
  // and writes a snapshot object of the file at offset 0 of that index.
  void snapshot() {
    const CheckpointResult r = db_->checkpoint(SQLITE_CHECKPOINT_TRUNCATE);
    if (r.busy) throw Error("checkpoint busy");
    ++index_;
    backedUp_ = 0;
    struct stat st {};
    ::fstat(dbFd_.get(), &st);
    std::string image(static_cast<size_t>(st.st_size), '\0');
    if (::pread(dbFd_.get(), image.data(), image.size(), 0) != st.st_size) {
      throw Error("short read of " + dbPath_);
    }
    auto out = store_.create(backup::snapshotKey(generation_, index_));
    backup::SnapshotObjectWriter writer(*out, position(), pageSize(), std::nullopt, nowMs(), 4);
    writer.addPages(image);
    writer.finish();
    out->commit();
  }

  // Writes one WAL object holding the commits since the last one (or the snapshot); false when
  // there were none. `skip`: leave the first transaction out (a gap in the chain).
  bool backUpWal(bool skip = false) {
    const std::vector<uint8_t> wal = readBytes(dbPath_ + "-wal");
    std::vector<WalSlice> slices = splitWalAtCommits(wal, 1);
    std::erase_if(slices, [&](const WalSlice& s) { return s.offset < backedUp_; });
    if (skip && !slices.empty()) slices.erase(slices.begin());
    if (slices.empty()) return false;
    backup::WalObjectHeader header;
    header.start = {generation_, index_, slices.front().offset};
    std::vector<std::string> frames;
    for (const WalSlice& s : slices) {
      frames.push_back(lz4Compress(s.bytes));
      header.segments.push_back({s.offset, s.bytes.size(), frames.back().size(), nowMs()});
    }
    std::vector<std::span<const uint8_t>> spans;
    for (const std::string& f : frames) spans.push_back(asBytes(f));
    auto out = store_.create(backup::walObjectKey(header.start));
    const std::string object = backup::encodeWalObject(header, spans);
    out->write(object);
    out->commit();
    backedUp_ = header.endOffset();
    return true;
  }

  // Rows id = first .. end - 1 of table t, one transaction each, with `bytes` random bytes.
  void insertRows(int first, int end, int bytes = 300) {
    for (int i = first; i < end; ++i) {
      db_->exec("INSERT INTO t VALUES (" + std::to_string(i) + ", randomblob(" +
                std::to_string(bytes) + "))");
    }
  }

  uint32_t pageSize() { return static_cast<uint32_t>(db_->queryInt("PRAGMA page_size")); }

 private:
  static int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }

  const uint64_t generation_;
  const std::string dbPath_;
  const std::string root_;
  storage::DirectoryStore store_;
  std::unique_ptr<SqliteConnection> db_;
  UniqueFd dbFd_;
  uint64_t index_ = 0;
  uint64_t backedUp_ = 0;  // WAL offset the WAL objects reach in index_
};

}  // namespace walstream::test
