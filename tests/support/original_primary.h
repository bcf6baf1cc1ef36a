// A primary of the original 2022 live-replication protocol (docs/wire-format.md §9), for tests of
// a replica that follows one: an HTTP server on 127.0.0.1 serving GET /stream?path=PATH of one
// real SQLite database that the test writes, the way such a primary does:
//   - the database is named by `path=` only (400 "Database name required" without it, 404 for
//     another path); the response carries Litestream-Page-Size and no walstream header;
//   - `generation=&index=` of a recorded index resumes there, from offset 0 of the index (the
//     whole index again); anything else gets a snapshot: the main database file as it was at
//     offset 0 of the current index, raw, at offset 0, followed by that index's WAL from offset 0;
//   - WAL segments are lz4 frames WITHOUT a content size, 4 MiB blocks, with a content checksum
//     (what the original primary's lz4 writer produces), each one the whole transactions found
//     in the WAL file since the last one;
//   - no heartbeats, no index ends, no end of stream: an idle stream is silent.
// The double records each index's WAL (the original primary's shadow WAL) as it reads it from
// the database's -wal file, which SQLite must never checkpoint behind its back: open the source
// with wal_autocheckpoint 0 and keepWalOnClose (tests/support/sqlite_fixture.h), and start the
// next index only through startNextIndex(). A restart is a new OriginalPrimary on the same port
// (Options::port), recording the current index again from the WAL file.
// Connections are served one at a time; each ends when the peer closes it or the double stops.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/file_util.h"
#include "core/wal_segment.h"
#include "tests/support/canned_http_server.h"

namespace walstream {
class SqliteConnection;
}

namespace walstream::test {

class OriginalPrimary {
 public:
  struct Options {
    std::string dbPath;      // the source database
    std::string servedPath;  // the path= it answers to; "" = dbPath
    uint64_t generation = 0x00c0ffee00c0ffeeULL;
    uint64_t index = 1;  // the WAL index the source's WAL file is at start
    uint16_t port = 0;   // 0: an ephemeral port; else this one (a restart)
  };

  explicit OriginalPrimary(Options options);
  ~OriginalPrimary() = default;
  OriginalPrimary(const OriginalPrimary&) = delete;
  OriginalPrimary& operator=(const OriginalPrimary&) = delete;

  uint16_t port() const { return server_.port(); }
  std::string url() const { return server_.url(); }
  std::vector<std::string> targets() const { return server_.targets(); }
  // Waits (bounded) until at least `n` requests arrived; returns how many did.
  size_t waitForRequests(size_t n, std::chrono::milliseconds timeout) const {
    return server_.waitForRequests(n, timeout);
  }
  uint64_t snapshotsSent() const { return snapshotsSent_; }

  // Ends the current WAL index: records the rest of its WAL, checkpoints `source` (the test's
  // connection to the database) with TRUNCATE, and starts recording the next index, whose
  // snapshot is the database file as the checkpoint left it.
  void startNextIndex(SqliteConnection& source);

 private:
  struct Segment {
    uint64_t offset = 0;
    std::string lz4;
  };
  struct RecordedIndex {
    std::vector<Segment> segments;
    uint64_t end = 0;     // WAL offset recorded up to (a commit boundary)
    WalChainState chain;  // the WAL's chain there
  };
  // Where a stream stands: the next segment to send.
  struct Cursor {
    uint64_t index = 0;
    size_t segment = 0;
  };

  void serve(int fd, const std::string& target);
  // Reads transactions written since the last call from the -wal file into the current index's
  // record. Requires mu_.
  void recordNewTransactions();
  std::string readImage() const;
  // The records from `cursor` on, as stream bytes, advancing it.
  std::string recordsFrom(Cursor& cursor);
  void followUntilClosed(int fd, Cursor cursor);

  const Options options_;
  UniqueFd dbFd_;  // kept open: closing a descriptor of the database drops SQLite's locks
  mutable std::mutex mu_;
  uint64_t current_;
  std::string image_;  // the database file at offset 0 of the current index
  std::map<uint64_t, RecordedIndex> indexes_;
  std::atomic<uint64_t> snapshotsSent_{0};
  // Last: its thread, which uses everything above, is stopped and joined first.
  CannedHttpServer server_;
};

}  // namespace walstream::test
