#include "client/apply/wal_appender.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/apply/wal_batch.h"
#include "client/apply/wal_index_hash.h"
#include "core/byte_order.h"
#include "core/error.h"
#include "core/file_util.h"
#include "core/ofd_lock.h"
#include "core/sqlite_conn.h"
#include "core/wal_format.h"
#include "core/wal_index.h"
#include "core/wal_segment.h"
#include "tests/support/faulty_file_system.h"
#include "tests/support/process.h"
#include "tests/support/sqlite_fixture.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

using Clock = std::chrono::steady_clock;

// Transactions committed on a primary, captured by parsing its -wal at commit boundaries. The
// frames' page views point into `bytes`.
struct Captured {
  std::vector<uint8_t> bytes;
  std::vector<WalTransaction> transactions;
};

// A primary database in WAL mode with autocheckpoint off. Its transactions are captured by reading
// the -wal from the last captured offset; its WAL restarts only through truncateWal().
class Primary {
 public:
  Primary(std::string path, uint32_t pageSize, bool autoVacuum = false)
      : path_(std::move(path)), pageSize_(pageSize) {
    conn_ = std::make_unique<SqliteConnection>(path_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    conn_->exec("PRAGMA page_size=" + std::to_string(pageSize));
    if (autoVacuum) conn_->exec("PRAGMA auto_vacuum=FULL");  // DELETEs shrink the database
    REQUIRE(conn_->queryText("PRAGMA journal_mode=WAL") == "wal");
    conn_->exec("PRAGMA wal_autocheckpoint=0");
    conn_->exec("PRAGMA synchronous=OFF");
    dbFd_ = openFile(path_, O_RDONLY);
  }

  SqliteConnection& db() { return *conn_; }
  uint32_t pageSize() const { return pageSize_; }

  Captured capture() {
    Captured c;
    if (!walFd_.valid()) walFd_ = openFileIfExists(path_ + "-wal", O_RDONLY);
    if (!walFd_.valid()) return c;
    const uint64_t size = fileSize(walFd_.get(), path_);
    if (size <= copied_) return c;
    c.bytes.resize(size - copied_);
    REQUIRE(preadFull(walFd_.get(), c.bytes.data(), c.bytes.size(), copied_, path_) ==
            c.bytes.size());
    auto parsed = parseWalSegment(c.bytes, copied_, chain_);
    copied_ = parsed.endOffset;
    c.transactions = std::move(parsed.transactions);
    return c;
  }

  // TRUNCATE checkpoint: everything goes into the database file and the WAL restarts empty.
  // Anything not captured before is lost to capture (it is in the image).
  void truncateWal() {
    REQUIRE_FALSE(conn_->checkpoint(SQLITE_CHECKPOINT_TRUNCATE).busy);
    copied_ = 0;
    chain_ = {};
  }

  // The database file's bytes; after truncateWal() this is the whole database.
  std::vector<uint8_t> image() {
    std::vector<uint8_t> bytes(fileSize(dbFd_.get(), path_));
    REQUIRE(preadFull(dbFd_.get(), bytes.data(), bytes.size(), 0, path_) == bytes.size());
    return bytes;
  }

 private:
  std::string path_;
  uint32_t pageSize_;
  UniqueFd
      dbFd_;  // descriptors opened once and closed after the connection (docs/sqlite-wal.md §4.5)
  UniqueFd walFd_;
  std::unique_ptr<SqliteConnection> conn_;
  WalChainState chain_;
  uint64_t copied_ = 0;
};

// Copies the primary's database (WAL emptied first) to `replicaPath`, as a replica starts.
void makeReplica(Primary& primary, const std::string& replicaPath) {
  primary.truncateWal();
  writeBytes(replicaPath, primary.image());
}

std::unique_ptr<SqliteConnection> openReader(const std::string& path) {
  return std::make_unique<SqliteConnection>("file:" + path + "?mode=ro",
                                            SQLITE_OPEN_READONLY | SQLITE_OPEN_URI);
}

// Every row of every table, in rowid order, prefixed with its table's name.
std::vector<std::string> contentOf(SqliteConnection& conn) {
  std::vector<std::string> rows;
  for (const auto& table :
       queryRows(conn, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")) {
    for (auto& row : queryRows(conn, "SELECT * FROM \"" + table + "\" ORDER BY rowid")) {
      rows.push_back(table + ":" + row);
    }
  }
  return rows;
}

std::vector<std::string> replicaContent(const std::string& path) {
  auto reader = openReader(path);
  return contentOf(*reader);
}

std::string integrityOf(const std::string& path) {
  auto reader = openReader(path);
  return reader->queryText("PRAGMA integrity_check");
}

AppendResult appendAll(WalAppender& appender, uint32_t pageSize, const Captured& captured) {
  for (int attempt = 0; attempt < 50; ++attempt) {
    AppendResult r = appender.appendTransactions(pageSize, captured.transactions);
    if (r.status == AppendStatus::Applied) return r;
  }
  FAIL("the write lock stayed busy");
  return {};
}

// Copies the replica's database and -wal (no -shm) in a child process, so no descriptor on the
// replica is opened and closed here, then opens the copy: SQLite rebuilds the index from the WAL.
std::vector<std::string> contentAfterRecovery(const TempDir& dir, const std::string& replica,
                                              const std::string& name) {
  const std::string copy = dir.file(name + ".db");
  for (const char* suffix : {"", "-wal"}) {
    auto r = runToCompletion({"/bin/cp", replica + suffix, copy + suffix}, dir.file(name + "-cp"));
    REQUIRE(r.exitCode == 0);
  }
  SqliteConnection conn(copy);
  CHECK(conn.queryText("PRAGMA integrity_check") == "ok");
  return contentOf(conn);
}

std::vector<uint8_t> copyOfFile(const TempDir& dir, const std::string& path,
                                const std::string& name) {
  auto r = runToCompletion({"/bin/cp", path, dir.file(name)}, dir.file(name + "-cp"));
  REQUIRE(r.exitCode == 0);
  return readBytes(dir.file(name));
}

void createKeyValueTable(Primary& primary, int rows) {
  auto& db = primary.db();
  db.exec("CREATE TABLE kv(k INTEGER PRIMARY KEY, v BLOB)");
  db.exec("BEGIN");
  for (int i = 0; i < rows; ++i) db.exec("INSERT INTO kv(v) VALUES(randomblob(200))");
  db.exec("COMMIT");
}

void insertRows(Primary& primary, int rows, int blobSize) {
  primary.db().exec("BEGIN");
  for (int i = 0; i < rows; ++i) {
    primary.db().exec("INSERT INTO kv(v) VALUES(randomblob(" + std::to_string(blobSize) + "))");
  }
  primary.db().exec("COMMIT");
}

// ---- Readers that check invariants on the replica without pause -------------------------------

constexpr int64_t kAccounts = 200;
constexpr int64_t kInitialBalance = 1000;

void createBank(Primary& primary) {
  auto& db = primary.db();
  db.exec(
      "CREATE TABLE accounts(id INTEGER PRIMARY KEY, balance INTEGER NOT NULL, pad TEXT);"
      "CREATE TABLE log(id INTEGER PRIMARY KEY, amount INTEGER, note BLOB);"
      "CREATE INDEX log_amount ON log(amount);"
      "CREATE TABLE counter(id INTEGER PRIMARY KEY, n INTEGER, txns INTEGER);"
      "INSERT INTO counter VALUES(1, 0, 0);");
  db.exec("BEGIN");
  for (int64_t i = 1; i <= kAccounts; ++i) {
    db.exec("INSERT INTO accounts VALUES(" + std::to_string(i) + ", " +
            std::to_string(kInitialBalance) + ", hex(randomblob(60)))");
  }
  db.exec("COMMIT");
}

// One primary transaction: a transfer (the sum of balances is constant), a log row (counter.n
// equals count(*) of log), counter.txns + 1; every 40th also deletes old log rows.
void bankTransaction(SqliteConnection& db, std::mt19937& rng, int number) {
  const auto a = 1 + rng() % kAccounts;
  const auto b = 1 + (a + rng() % (kAccounts - 1)) % kAccounts;  // != a
  const auto amount = std::to_string(rng() % 100);
  const auto noteSize = std::to_string(rng() % 10 == 0 ? 6000 + rng() % 6000 : 20 + rng() % 800);
  db.exec("BEGIN");
  db.exec("UPDATE accounts SET balance = balance - " + amount + " WHERE id = " + std::to_string(a));
  db.exec("UPDATE accounts SET balance = balance + " + amount + " WHERE id = " + std::to_string(b));
  db.exec("INSERT INTO log(amount, note) VALUES(" + amount + ", randomblob(" + noteSize + "))");
  db.exec("UPDATE counter SET n = n + 1, txns = txns + 1");
  if (number % 40 == 39) {
    db.exec("DELETE FROM log WHERE id IN (SELECT id FROM log ORDER BY id LIMIT 25)");
    db.exec("UPDATE counter SET n = (SELECT count(*) FROM log)");
  }
  db.exec("COMMIT");
}

// Plain data: child processes send it through a pipe.
struct ReaderStats {
  int64_t snapshots = 0;  // consistent read transactions checked
  int64_t checks = 0;     // quick_check / integrity_check runs
  int64_t errors = 0;     // any SQLite error
  int64_t violations = 0;
  char firstProblem[240] = {};

  void note(const std::string& what) {
    if (firstProblem[0] == 0) std::snprintf(firstProblem, sizeof firstProblem, "%s", what.c_str());
  }
};

// Reads the bank invariants in a loop until stop() or a hard deadline.
void readBankUntil(const std::string& path, const std::function<bool()>& stop, ReaderStats& stats) {
  const auto deadline = Clock::now() + 150s;
  std::unique_ptr<SqliteConnection> conn;
  try {
    conn = openReader(path);
  } catch (const std::exception& e) {
    ++stats.errors;
    stats.note(e.what());
    return;
  }
  int64_t lastTxns = -1;
  for (int64_t i = 1; !stop() && Clock::now() < deadline; ++i) {
    try {
      conn->exec("BEGIN");
      int64_t sum = 0, n = 0, txns = 0;
      {
        SqliteStatement st(*conn,
                           "SELECT (SELECT sum(balance) FROM accounts), (SELECT n FROM counter), "
                           "(SELECT txns FROM counter)");
        if (!st.step()) throw Error("the invariant query returned no row");
        sum = st.columnInt(0);
        n = st.columnInt(1);
        txns = st.columnInt(2);
      }
      const int64_t count = conn->queryInt("SELECT count(*) FROM log");
      conn->exec("COMMIT");
      ++stats.snapshots;
      if (sum != kAccounts * kInitialBalance || n != count || txns < lastTxns) {
        ++stats.violations;
        stats.note("torn state: sum " + std::to_string(sum) + " n " + std::to_string(n) +
                   " count " + std::to_string(count) + " txns " + std::to_string(txns) + " after " +
                   std::to_string(lastTxns));
      }
      lastTxns = txns;
      if (i % 10 == 0) {
        ++stats.checks;
        const std::string r =
            conn->queryText(i % 50 == 0 ? "PRAGMA integrity_check" : "PRAGMA quick_check");
        if (r != "ok") {
          ++stats.violations;
          stats.note("check: " + r);
        }
      }
    } catch (const std::exception& e) {
      ++stats.errors;
      stats.note(e.what());
      try {
        conn->exec("ROLLBACK");
      } catch (const std::exception&) {
      }
    }
  }
}

// A forked reader process. It is forked before this process opens any SQLite connection to the
// replica (SQLite's per-process lock bookkeeping must not be inherited), waits for start(), reads
// until finish() sends the stop byte, and reports its stats through another pipe.
class ReaderProcess {
 public:
  explicit ReaderProcess(const std::string& path) {
    int control[2];
    int results[2];
    REQUIRE(::pipe2(control, O_CLOEXEC) == 0);
    REQUIRE(::pipe2(results, O_CLOEXEC) == 0);
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      ::close(control[1]);
      ::close(results[0]);
      ReaderStats stats;
      pollfd p{control[0], POLLIN, 0};
      char go = 0;
      if (::poll(&p, 1, 60000) == 1 && ::read(control[0], &go, 1) == 1) {
        try {
          readBankUntil(
              path, [&] { return ::poll(&p, 1, 0) != 0; }, stats);
        } catch (...) {
          ++stats.errors;
          stats.note("unexpected exception");
        }
      } else {
        ++stats.errors;
        stats.note("never started");
      }
      const bool sent = ::write(results[1], &stats, sizeof stats) == sizeof stats;
      ::_exit(sent ? 0 : 1);
    }
    ::close(control[0]);
    ::close(results[1]);
    control_.reset(control[1]);
    results_.reset(results[0]);
  }
  ~ReaderProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  ReaderProcess(const ReaderProcess&) = delete;
  ReaderProcess& operator=(const ReaderProcess&) = delete;

  void start() { REQUIRE(::write(control_.get(), "g", 1) == 1); }

  ReaderStats finish() {
    // A byte rather than EOF: later children inherited this pipe's write end too.
    REQUIRE(::write(control_.get(), "s", 1) == 1);
    ReaderStats stats;
    pollfd p{results_.get(), POLLIN, 0};
    REQUIRE(::poll(&p, 1, 60000) == 1);
    REQUIRE(::read(results_.get(), &stats, sizeof stats) == sizeof stats);
    int status = 0;
    REQUIRE(::waitpid(pid_, &status, 0) == pid_);
    pid_ = -1;
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    return stats;
  }

 private:
  pid_t pid_ = -1;
  UniqueFd control_;
  UniqueFd results_;
};

void checkReader(const ReaderStats& s, const char* who) {
  MESSAGE(std::string(who) << ": " << s.snapshots << " snapshots, " << s.checks << " checks");
  INFO(std::string(who) << ": " << s.snapshots << " snapshots, " << s.checks
                        << " checks, first problem: " << s.firstProblem);
  CHECK(s.errors == 0);
  CHECK(s.violations == 0);
  CHECK(s.snapshots >= 20);
  CHECK(s.checks >= 2);
}

// The wal-index of a replica, mapped read-only through a descriptor the test keeps open for as
// long as any connection to the replica exists in this process.
struct ShmView {
  UniqueFd fd;
  std::unique_ptr<WalIndexFile> index;

  explicit ShmView(const std::string& replica) {
    fd = openFile(replica + "-shm", O_RDWR);
    index = std::make_unique<WalIndexFile>(fd.get(), replica + "-shm", /*writable=*/true);
  }
  WalIndexHeader header() {
    auto h = readWalIndexHeader(index->block(0));
    REQUIRE(h);
    return *h;
  }
  // Hash slots in block(mxFrame) that point beyond mxFrame (stale entries).
  int staleSlots() {
    const uint32_t mx = header().mxFrame;
    const uint32_t k = walIndexBlockOf(std::max<uint32_t>(mx, 1));
    const uint8_t* b = index->block(k);
    REQUIRE(b != nullptr);
    int n = 0;
    for (uint32_t s = 0; s < kWalIndexHashSlots; ++s) {
      if (shmLoad16(b, kWalIndexHashTableOffset + 2 * s) > mx - walIndexBlockBase(k)) ++n;
    }
    return n;
  }
};

}  // namespace

TEST_CASE("thousands of appended transactions are atomic for reader threads and processes") {
  TempDir dir;
  const std::string replica = dir.file("replica.db");
  Primary primary(dir.file("primary.db"), 4096, /*autoVacuum=*/true);
  createBank(primary);
  makeReplica(primary, replica);

  // Forked before anything in this process opens the replica.
  std::vector<std::unique_ptr<ReaderProcess>> processes;
  for (int i = 0; i < 2; ++i) processes.push_back(std::make_unique<ReaderProcess>(replica));

  WalAppender appender(replica);
  CHECK(appender.pageSize() == 4096);
  for (auto& p : processes) p->start();
  std::atomic<bool> stop{false};
  std::vector<ReaderStats> threadStats(2);
  std::vector<std::thread> threads;
  for (auto& s : threadStats) {
    threads.emplace_back([&] {
      readBankUntil(
          replica, [&] { return stop.load(); }, s);
    });
  }

  constexpr int kTransactions = 2500;
  std::mt19937 rng(20240611);
  int applied = 0, batches = 0, newWals = 0, replicaTruncates = 0, primaryRestarts = 0;
  uint32_t largestWal = 0;
  while (applied < kTransactions) {
    const int batch = 1 + static_cast<int>(rng() % 6);
    for (int i = 0; i < batch; ++i) bankTransaction(primary.db(), rng, applied + i);
    const Captured captured = primary.capture();
    REQUIRE(captured.transactions.size() == static_cast<size_t>(batch));
    const AppendResult r = appendAll(appender, 4096, captured);
    REQUIRE(r.status == AppendStatus::Applied);
    newWals += r.startedNewWal ? 1 : 0;
    largestWal = std::max(largestWal, r.mxFrame);
    applied += batch;
    ++batches;
    if (batches % 20 == 0) appender.checkpointPassive();
    if (batches % 60 == 0 && appender.checkpointTruncate(50ms)) ++replicaTruncates;
    if (batches % 150 == 0) {
      primary.truncateWal();  // the primary's WAL restarts; capture continues at offset 0
      ++primaryRestarts;
    }
    if (batches == 300) {
      // A re-snapshot while the readers run: the image arrives in chunks and lands as one
      // transaction.
      primary.truncateWal();
      const auto image = primary.image();
      REQUIRE(appender.beginSnapshot(4096) == AppendStatus::Applied);
      for (size_t at = 0; at < image.size(); at += 10000) {
        appender.addSnapshotBytes(
            std::span(image).subspan(at, std::min<size_t>(10000, image.size() - at)));
      }
      CHECK(appender.commitSnapshot().nPage == image.size() / 4096);
    }
  }
  stop = true;
  for (auto& t : threads) t.join();
  MESSAGE(applied << " transactions in " << batches << " appends; " << newWals << " new WALs, "
                  << replicaTruncates << " replica TRUNCATE checkpoints, " << primaryRestarts
                  << " primary WAL restarts; largest replica WAL " << largestWal << " frames");
  for (auto& s : threadStats) checkReader(s, "reader thread");
  for (auto& p : processes) checkReader(p->finish(), "reader process");
  CHECK(primaryRestarts > 0);

  CHECK(integrityOf(replica) == "ok");
  CHECK(replicaContent(replica) == contentOf(primary.db()));

  // Checkpointed into their database files, primary and replica are the same bytes.
  REQUIRE(appender.checkpointTruncate(5s));
  CHECK(appender.walFrameCount() == 0);
  primary.truncateWal();
  const auto expected = primary.image();
  CHECK(copyOfFile(dir, replica, "replica-copy.db") == expected);
}

TEST_CASE("each TRUNCATE checkpoint is followed by a new WAL that SQLite can recover") {
  TempDir dir;
  const std::string replica = dir.file("replica.db");
  Primary primary(dir.file("primary.db"), 4096);
  createKeyValueTable(primary, 50);
  makeReplica(primary, replica);
  WalAppender appender(replica);

  std::set<std::array<uint8_t, 8>> generations;
  for (int round = 0; round < 5; ++round) {
    CAPTURE(round);
    insertRows(primary, 3 + round, 300);
    const AppendResult first = appendAll(appender, 4096, primary.capture());
    CHECK(first.startedNewWal);  // round 0: the WAL recovered empty at attach (zero salts)
    generations.insert(first.salt);
    insertRows(primary, 2, 5000);
    insertRows(primary, 1, 10);
    const AppendResult next = appendAll(appender, 4096, primary.capture());
    CHECK_FALSE(next.startedNewWal);  // continues the chain and salts
    CHECK(next.salt == first.salt);
    CHECK(next.mxFrame == first.mxFrame + next.framesWritten);
    CHECK(appender.walFrameCount() == next.mxFrame);

    CHECK(replicaContent(replica) == contentOf(primary.db()));
    CHECK(contentAfterRecovery(dir, replica, "copy" + std::to_string(round)) ==
          contentOf(primary.db()));
    REQUIRE(appender.checkpointTruncate(1s));
    CHECK(appender.walFrameCount() == 0);
    CHECK(std::filesystem::file_size(replica + "-wal") == 0);
    CHECK(replicaContent(replica) == contentOf(primary.db()));
  }
  CHECK(generations.size() == 5);  // every WAL had new salts

  SUBCASE("a new WAL whose header already carries the index's salts gets new ones") {
    // An abandoned snapshot writes the WAL header with the index's salts and publishes nothing.
    REQUIRE(appender.beginSnapshot(4096) == AppendStatus::Applied);
    appender.abortSnapshot();
    const auto wal = readBytes(replica + "-wal");  // SQLite takes no locks on the -wal
    REQUIRE(wal.size() == kWalHeaderSize);
    const auto abandoned = WalHeader::decode(wal);
    REQUIRE(abandoned);
    insertRows(primary, 2, 100);
    const AppendResult r = appendAll(appender, 4096, primary.capture());
    CHECK(r.startedNewWal);
    CHECK(loadBE32(r.salt.data()) == abandoned->salt1 + 1);
    CHECK(replicaContent(replica) == contentOf(primary.db()));
    CHECK(contentAfterRecovery(dir, replica, "after-abandoned") == contentOf(primary.db()));
  }
}

namespace {

// The same WAL with big-endian checksum words (magic 0x377f0683), as a big-endian host writes it.
std::vector<uint8_t> withBigEndianChecksums(std::vector<uint8_t> wal) {
  auto header = WalHeader::decode(wal);
  REQUIRE(header);
  header->magic = kWalMagic | 1;
  const auto encoded = header->encode();
  std::copy(encoded.begin(), encoded.end(), wal.begin());
  Checksum chain = header->checksum;
  const size_t frameSize = header->pageSize + kWalFrameHeaderSize;
  for (size_t at = kWalHeaderSize; at + frameSize <= wal.size(); at += frameSize) {
    chain = walChecksum(&wal[at], 8, true, chain);
    chain = walChecksum(&wal[at + kWalFrameHeaderSize], header->pageSize, true, chain);
    storeBE32(&wal[at + 16], chain.s0);
    storeBE32(&wal[at + 20], chain.s1);
  }
  return wal;
}

}  // namespace

TEST_CASE("appending continues a WAL whose checksums use big-endian words") {
  TempDir dir;
  const std::string replica = dir.file("replica.db");
  Primary primary(dir.file("primary.db"), 4096);
  createKeyValueTable(primary, 30);
  makeReplica(primary, replica);
  for (int i = 0; i < 3; ++i) insertRows(primary, 2, 700);
  const Captured first = primary.capture();
  REQUIRE(first.transactions.size() == 3);
  writeBytes(replica + "-wal", withBigEndianChecksums(first.bytes));

  WalAppender appender(replica);  // its first read recovers the index from that WAL
  auto h = appender.readHeader();
  REQUIRE(h);
  CHECK(h->bigEndianChecksum == 1);
  CHECK(replicaContent(replica) == contentOf(primary.db()));

  insertRows(primary, 4, 900);
  insertRows(primary, 1, 10);
  const AppendResult r = appendAll(appender, 4096, primary.capture());
  CHECK_FALSE(r.startedNewWal);
  h = appender.readHeader();
  REQUIRE(h);
  CHECK(h->bigEndianChecksum == 1);
  CHECK(replicaContent(replica) == contentOf(primary.db()));
  // The whole chain, ours included, verifies with big-endian words. The file goes on past the
  // last frame (zeros the appender preallocated); the index says where the frames end.
  auto wal = readBytes(replica + "-wal");
  const uint64_t framesEnd = walFrameOffset(h->mxFrame + 1, 4096);
  REQUIRE(wal.size() > framesEnd);
  CHECK(std::all_of(wal.begin() + static_cast<std::ptrdiff_t>(framesEnd), wal.end(),
                    [](uint8_t b) { return b == 0; }));
  wal.resize(framesEnd);
  WalChainState chain;
  const auto parsed = parseWalSegment(wal, 0, chain);
  CHECK(chain.bigEndianChecksum);
  CHECK(parsed.transactions.size() == 5);
  CHECK(chain.checksum == h->frameChecksum);
  CHECK(contentAfterRecovery(dir, replica, "recovered") == contentOf(primary.db()));
}

TEST_CASE("a WAL file that disagrees with its wal-index is reported, not appended to") {
  TempDir dir;
  const std::string replica = dir.file("replica.db");
  Primary primary(dir.file("primary.db"), 4096);
  createKeyValueTable(primary, 30);
  makeReplica(primary, replica);
  WalAppender appender(replica);
  insertRows(primary, 3, 500);
  const AppendResult applied = appendAll(appender, 4096, primary.capture());
  const auto content = contentOf(primary.db());

  std::string expected;
  {
    UniqueFd wal = openFile(replica + "-wal", O_RDWR);  // SQLite takes no locks on the -wal
    SUBCASE("the last published frame's checksum") {
      const uint8_t junk[4] = {1, 2, 3, 4};
      pwriteFull(wal.get(), junk, 4, walFrameOffset(applied.mxFrame, 4096) + 16, replica);
      expected = "is not the commit frame its wal-index publishes";
    }
    SUBCASE("the WAL header's salts") {
      uint8_t bytes[kWalHeaderSize];
      REQUIRE(preadFull(wal.get(), bytes, sizeof bytes, 0, replica) == sizeof bytes);
      auto header = WalHeader::decode({bytes, sizeof bytes});
      REQUIRE(header);
      header->salt1 += 5;
      const auto encoded = header->encode();
      pwriteFull(wal.get(), encoded.data(), encoded.size(), 0, replica);
      expected = "does not match its wal-index";
    }
  }
  insertRows(primary, 1, 100);
  const Captured next = primary.capture();
  std::string message;
  try {
    (void)appender.appendTransactions(4096, next.transactions);
  } catch (const ReplicaModifiedError& e) {
    message = e.what();
  }
  CHECK(message.find(expected) != std::string::npos);
  // A snapshot cannot repair it either (it appends to the same WAL): a plain Error.
  message.clear();
  try {
    (void)appender.beginSnapshot(4096);
  } catch (const ReplicaModifiedError&) {
    message = "ReplicaModifiedError";
  } catch (const Error& e) {
    message = e.what();
  }
  CHECK(message.find("cannot apply a snapshot") != std::string::npos);
  CHECK_FALSE(appender.snapshotInProgress());
  CHECK(replicaContent(replica) == content);  // readers trust the index, not the checksums
}

TEST_CASE("appends and snapshots at 1, 4 and 64 KiB pages end byte-identical to the primary") {
  for (uint32_t pageSize : {1024u, 4096u, 65536u}) {
    CAPTURE(pageSize);
    TempDir dir;
    const std::string replica = dir.file("replica.db");
    Primary primary(dir.file("primary.db"), pageSize);
    createKeyValueTable(primary, 40);
    makeReplica(primary, replica);
    {
      WalAppender appender(replica);
      CHECK(appender.pageSize() == pageSize);
      std::mt19937 rng(pageSize);
      for (int i = 0; i < 30; ++i) {
        insertRows(primary, 1 + static_cast<int>(rng() % 3), static_cast<int>(rng() % 3000));
        if (i % 3 == 2) primary.db().exec("DELETE FROM kv WHERE k % 7 = " + std::to_string(i % 7));
        if (i % 2 == 1) appendAll(appender, pageSize, primary.capture());
      }
      // At 1 KiB, one transaction of more than 4062 frames: the index grows into block 1.
      insertRows(primary, 1, pageSize == 1024 ? 4300 * 1024 : 5000);
      const AppendResult r = appendAll(appender, pageSize, primary.capture());
      if (pageSize == 1024) {
        CHECK(r.mxFrame > kWalIndexFirstBlockPages);
        CHECK(std::filesystem::file_size(replica + "-shm") >= walIndexFileSizeFor(r.mxFrame));
      }
      CHECK(integrityOf(replica) == "ok");
      CHECK(replicaContent(replica) == contentOf(primary.db()));
      CHECK(contentAfterRecovery(dir, replica, "recovered") == contentOf(primary.db()));
      REQUIRE(appender.checkpointTruncate(1s));
    }  // no connection to the replica is left in this process
    primary.truncateWal();
    CHECK(readBytes(replica) == primary.image());
  }
}

TEST_CASE("a reader keeps its snapshot across appends; new readers see the new data") {
  TempDir dir;
  const std::string replica = dir.file("replica.db");
  Primary primary(dir.file("primary.db"), 4096);
  createKeyValueTable(primary, 20);
  makeReplica(primary, replica);
  WalAppender appender(replica);
  const auto before = contentOf(primary.db());

  auto reader = openReader(replica);
  reader->exec("BEGIN");
  CHECK(contentOf(*reader) == before);
  for (int i = 0; i < 5; ++i) {
    insertRows(primary, 10, 1500);
    appendAll(appender, 4096, primary.capture());
    CHECK(contentOf(*reader) == before);
    CHECK(replicaContent(replica) == contentOf(primary.db()));
  }
  // The open read transaction keeps a TRUNCATE checkpoint from completing.
  CHECK_FALSE(appender.checkpointTruncate(50ms));
  reader->exec("COMMIT");
  CHECK(contentOf(*reader) == contentOf(primary.db()));
}

TEST_CASE("malformed input is rejected before any lock; a busy write lock reports Busy") {
  TempDir dir;
  const std::string replica = dir.file("replica.db");
  Primary primary(dir.file("primary.db"), 4096);
  createKeyValueTable(primary, 10);
  makeReplica(primary, replica);
  WalAppender appender(replica, {.writeLockTimeout = 50ms});
  insertRows(primary, 3, 6000);
  const Captured good = primary.capture();
  REQUIRE(good.transactions.size() == 1);
  REQUIRE(good.transactions[0].frames.size() > 2);

  // A local writer holds WAL_WRITE_LOCK (and commits nothing).
  SqliteConnection local(replica);
  local.exec("BEGIN IMMEDIATE");

  auto messageOf = [&](std::vector<WalTransaction> txns, uint32_t pageSize = 4096) {
    try {
      (void)appender.appendTransactions(pageSize, txns);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  const WalTransaction& t = good.transactions[0];
  CHECK(messageOf(good.transactions, 1024).find("page size is 4096") != std::string::npos);
  CHECK(messageOf({}).find("no transactions") != std::string::npos);
  CHECK(messageOf({WalTransaction{}}).find("has no frames") != std::string::npos);
  {
    WalTransaction open = t;
    open.frames.pop_back();
    CHECK(messageOf({t, open}).find("transaction 1 for " + replica +
                                    " does not end with a commit frame") != std::string::npos);
  }
  {
    WalTransaction early = t;
    early.frames[0].header.commitSize = 5;
    CHECK(messageOf({early}).find("commit frame before its end") != std::string::npos);
  }
  {
    WalTransaction zero = t;
    zero.frames[1].header.pageNumber = 0;
    CHECK(messageOf({zero}).find("page number 0") != std::string::npos);
  }
  {
    WalTransaction shortPage = t;
    shortPage.frames[1].page = shortPage.frames[1].page.first(100);
    CHECK(messageOf({shortPage}).find("100-byte page image") != std::string::npos);
  }
  // Well-formed input waits for the lock, then reports Busy without writing anything.
  const auto walBefore = std::filesystem::file_size(replica + "-wal");
  const auto start = Clock::now();
  CHECK(appender.appendTransactions(4096, good.transactions).status == AppendStatus::Busy);
  CHECK(Clock::now() - start >= 50ms);
  CHECK(appender.beginSnapshot(4096) == AppendStatus::Busy);
  CHECK_FALSE(appender.snapshotInProgress());
  CHECK(std::filesystem::file_size(replica + "-wal") == walBefore);

  local.exec("ROLLBACK");  // no frames: the header is as the appender left it
  CHECK(appender.appendTransactions(4096, good.transactions).status == AppendStatus::Applied);
  CHECK(replicaContent(replica) == contentOf(primary.db()));
}

TEST_CASE("attaching refuses what is not a WAL-mode SQLite database") {
  TempDir dir;
  auto messageOf = [](const std::string& path) {
    try {
      WalAppender appender(path);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  CHECK(messageOf(dir.file("missing.db")).find("does not exist") != std::string::npos);
  {
    SqliteConnection rollback(dir.file("rollback.db"), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
    rollback.exec("CREATE TABLE t(x)");
  }
  CHECK(messageOf(dir.file("rollback.db")).find("is not in WAL mode") != std::string::npos);
  const std::vector<uint8_t> junk(8192, 0x5a);
  writeBytes(dir.file("junk.db"), junk);
  CHECK(messageOf(dir.file("junk.db")) != "(no error)");
}

TEST_CASE("a write abandoned before publishing is never seen, and the next append cleans up") {
  TempDir dir;
  const std::string replica = dir.file("replica.db");
  Primary primary(dir.file("primary.db"), 1024);
  createKeyValueTable(primary, 30);
  makeReplica(primary, replica);

  bool crash = false;
  WalAppenderOptions options;
  options.beforePublish = [&] {
    if (crash) throw std::runtime_error("simulated death before publishing");
  };
  std::unique_ptr<ShmView> shm;  // declared before every connection to the replica
  WalAppender appender(replica, options);
  shm = std::make_unique<ShmView>(replica);

  insertRows(primary, 5, 300);
  appendAll(appender, 1024, primary.capture());
  const auto stateA = contentOf(primary.db());
  const uint32_t mxA = shm->header().mxFrame;

  // Three transactions; the state after the first is remembered.
  insertRows(primary, 20, 900);
  const auto stateB1 = contentOf(primary.db());
  insertRows(primary, 20, 900);
  insertRows(primary, 3, 100);
  const Captured batch = primary.capture();
  REQUIRE(batch.transactions.size() == 3);

  auto oldReader = openReader(replica);
  oldReader->exec("BEGIN");
  CHECK(contentOf(*oldReader) == stateA);

  crash = true;
  CHECK_THROWS_AS((void)appender.appendTransactions(1024, batch.transactions), std::runtime_error);
  crash = false;
  CHECK(shm->header().mxFrame == mxA);
  CHECK(shm->staleSlots() > 0);  // the abandoned write left index entries beyond mxFrame
  CHECK(replicaContent(replica) == stateA);
  CHECK(contentOf(*oldReader) == stateA);

  // Retried in smaller pieces: the first append overwrites and cleans what was abandoned.
  const std::vector<WalTransaction> first(batch.transactions.begin(),
                                          batch.transactions.begin() + 1);
  const std::vector<WalTransaction> rest(batch.transactions.begin() + 1, batch.transactions.end());
  CHECK(appender.appendTransactions(1024, first).status == AppendStatus::Applied);
  CHECK(shm->staleSlots() == 0);
  CHECK(replicaContent(replica) == stateB1);
  CHECK(contentOf(*oldReader) == stateA);
  CHECK(appender.appendTransactions(1024, rest).status == AppendStatus::Applied);
  CHECK(replicaContent(replica) == contentOf(primary.db()));
  CHECK(integrityOf(replica) == "ok");
  oldReader->exec("COMMIT");
  CHECK(contentOf(*oldReader) == contentOf(primary.db()));
  CHECK(contentAfterRecovery(dir, replica, "recovered") == contentOf(primary.db()));
}

TEST_CASE("a header torn by a writer that died between its two copies is recovered") {
  TempDir dir;
  const std::string replica = dir.file("replica.db");
  Primary primary(dir.file("primary.db"), 4096);
  createKeyValueTable(primary, 10);
  makeReplica(primary, replica);
  std::unique_ptr<ShmView> shm;
  WalAppender appender(replica);
  shm = std::make_unique<ShmView>(replica);
  insertRows(primary, 4, 500);
  appendAll(appender, 4096, primary.capture());

  const WalIndexHeader published = shm->header();
  {
    // Another writer publishes copy 1 and dies before copy 0.
    OfdLock write =
        OfdLock::tryAcquire(shm->fd.get(), kShmWriteLock, 1, LockMode::Exclusive, replica);
    REQUIRE(write.held());
    WalIndexHeader h = published;
    h.change += 7;
    const auto bytes = h.encode();
    std::memcpy(shm->index->block(0) + kWalIndexHeaderSize, bytes.data(), bytes.size());
  }
  REQUIRE_FALSE(readWalIndexHeader(shm->index->block(0)));

  SUBCASE("recovery that cannot run is retried a bounded number of times") {
    // Holding WAL_RECOVER_LOCK keeps SQLite's recovery from running.
    OfdLock recover =
        OfdLock::tryAcquire(shm->fd.get(), kShmRecoverLock, 1, LockMode::Exclusive, replica);
    REQUIRE(recover.held());
    insertRows(primary, 1, 100);
    const Captured next = primary.capture();
    std::string message;
    try {
      (void)appender.appendTransactions(4096, next.transactions);
    } catch (const Error& e) {
      message = e.what();
    }
    CHECK(message.find("stays invalid after 3 recovery attempts") != std::string::npos);
    recover.release();
    CHECK(appender.appendTransactions(4096, next.transactions).status == AppendStatus::Applied);
    CHECK(replicaContent(replica) == contentOf(primary.db()));
  }
  SUBCASE("a header of another wal-index version is refused") {
    OfdLock write =
        OfdLock::tryAcquire(shm->fd.get(), kShmWriteLock, 1, LockMode::Exclusive, replica);
    REQUIRE(write.held());
    WalIndexHeader h = published;
    h.version = kWalVersion + 1;
    auto bytes = h.encode();
    std::memcpy(shm->index->block(0) + kWalIndexHeaderSize, bytes.data(), bytes.size());
    std::memcpy(shm->index->block(0), bytes.data(), bytes.size());
    write.release();
    insertRows(primary, 1, 100);
    const Captured next = primary.capture();
    std::string message;
    try {
      (void)appender.appendTransactions(4096, next.transactions);
    } catch (const Error& e) {
      message = e.what();
    }
    CHECK(message.find("unsupported wal-index version 3007001") != std::string::npos);
    // Put the real header back (as SQLite would publish it) and carry on.
    write = OfdLock::tryAcquire(shm->fd.get(), kShmWriteLock, 1, LockMode::Exclusive, replica);
    REQUIRE(write.held());
    publishWalIndexHeader(shm->index->block(0), published);
    write.release();
    CHECK(appender.appendTransactions(4096, next.transactions).status == AppendStatus::Applied);
    CHECK(replicaContent(replica) == contentOf(primary.db()));
  }
  SUBCASE("SQLite recovers it from the WAL and the append proceeds") {
    insertRows(primary, 2, 700);
    const AppendResult r = appendAll(appender, 4096, primary.capture());
    CHECK(r.status == AppendStatus::Applied);
    const auto h = readWalIndexHeader(shm->index->block(0));
    REQUIRE(h);
    CHECK(h->mxFrame == published.mxFrame + r.framesWritten);
    CHECK(replicaContent(replica) == contentOf(primary.db()));
    CHECK(integrityOf(replica) == "ok");
  }
}

TEST_CASE("a local write to the replica is detected and a snapshot repairs it") {
  TempDir dir;
  const std::string replica = dir.file("replica.db");
  Primary primary(dir.file("primary.db"), 4096);
  createKeyValueTable(primary, 30);
  makeReplica(primary, replica);
  WalAppender appender(replica);
  insertRows(primary, 3, 500);
  appendAll(appender, 4096, primary.capture());

  SqliteConnection local(replica);
  // The next append reports the local write until a snapshot replaces the content.
  auto expectDetectedThenRepair = [&] {
    insertRows(primary, 2, 100);
    const Captured next = primary.capture();
    std::string message;
    try {
      (void)appender.appendTransactions(4096, next.transactions);
    } catch (const ReplicaModifiedError& e) {
      message = e.what();
    }
    CHECK(message.find("was modified locally") != std::string::npos);
    CHECK_THROWS_AS((void)appender.appendTransactions(4096, next.transactions),
                    ReplicaModifiedError);

    primary.truncateWal();
    const auto image = primary.image();
    REQUIRE(appender.beginSnapshot(4096) == AppendStatus::Applied);
    appender.addSnapshotBytes(image);
    const AppendResult snap = appender.commitSnapshot();
    CHECK(snap.nPage == image.size() / 4096);
    CHECK(replicaContent(replica) == contentOf(primary.db()));
    insertRows(primary, 2, 100);
    appendAll(appender, 4096, primary.capture());
    CHECK(replicaContent(replica) == contentOf(primary.db()));
  };

  SUBCASE("a checkpoint that resets the WAL is not a local write") {
    REQUIRE_FALSE(local.checkpoint(SQLITE_CHECKPOINT_TRUNCATE).busy);
    insertRows(primary, 2, 100);
    const AppendResult r = appendAll(appender, 4096, primary.capture());
    CHECK(r.startedNewWal);
    CHECK(replicaContent(replica) == contentOf(primary.db()));
  }
  SUBCASE("a local commit still in the WAL") {
    local.exec("INSERT INTO kv(v) VALUES('local')");
    expectDetectedThenRepair();
  }
  SUBCASE("a local commit checkpointed away by TRUNCATE") {
    local.exec("INSERT INTO kv(v) VALUES('local')");
    REQUIRE_FALSE(local.checkpoint(SQLITE_CHECKPOINT_TRUNCATE).busy);
    expectDetectedThenRepair();
  }
}

TEST_CASE("a snapshot is applied as one transaction while a reader keeps its old snapshot") {
  TempDir dir;
  const std::string replica = dir.file("replica.db");
  Primary primary(dir.file("primary.db"), 4096);
  createKeyValueTable(primary, 100);
  makeReplica(primary, replica);
  WalAppender appender(replica);
  insertRows(primary, 10, 400);
  appendAll(appender, 4096, primary.capture());
  const auto old = contentOf(primary.db());

  // A bigger image, then a smaller one, each from its own primary.
  Primary big(dir.file("big.db"), 4096);
  createKeyValueTable(big, 600);
  big.truncateWal();
  const auto bigImage = big.image();
  Primary small(dir.file("small.db"), 4096);
  createKeyValueTable(small, 3);
  small.truncateWal();
  const auto smallImage = small.image();
  REQUIRE(bigImage.size() > 20 * 4096);
  REQUIRE(smallImage.size() < 5 * 4096);

  auto reader = openReader(replica);
  reader->exec("BEGIN");
  CHECK(contentOf(*reader) == old);

  REQUIRE(appender.beginSnapshot(4096) == AppendStatus::Applied);
  CHECK(appender.snapshotInProgress());
  CHECK_FALSE(appender.checkpointTruncate(1s));  // the snapshot holds the write lock
  // Chunks of every shape: single bytes, page-straddling runs, several pages at once.
  std::mt19937 rng(3);
  for (size_t at = 0; at < bigImage.size();) {
    const size_t n = std::min<size_t>(bigImage.size() - at, rng() % 3 == 0 ? 1 : rng() % 20000);
    appender.addSnapshotBytes(std::span(bigImage).subspan(at, n));
    at += n;
  }
  CHECK(replicaContent(replica) == old);  // written, not published
  const AppendResult r = appender.commitSnapshot();
  CHECK_FALSE(appender.snapshotInProgress());
  CHECK(r.nPage == bigImage.size() / 4096);
  CHECK(r.framesWritten == bigImage.size() / 4096);
  CHECK(contentOf(*reader) == old);
  CHECK(replicaContent(replica) == contentOf(big.db()));
  CHECK(integrityOf(replica) == "ok");
  reader->exec("COMMIT");
  CHECK(contentOf(*reader) == contentOf(big.db()));

  // A smaller image shrinks the database.
  reader->exec("BEGIN");
  CHECK(contentOf(*reader) == contentOf(big.db()));
  REQUIRE(appender.beginSnapshot(4096) == AppendStatus::Applied);
  appender.addSnapshotBytes(smallImage);
  CHECK(appender.commitSnapshot().nPage == smallImage.size() / 4096);
  CHECK(contentOf(*reader) == contentOf(big.db()));
  CHECK(replicaContent(replica) == contentOf(small.db()));
  CHECK(openReader(replica)->queryInt("PRAGMA page_count") ==
        static_cast<int64_t>(smallImage.size() / 4096));
  reader->exec("COMMIT");
  reader.reset();

  // Replication continues from the new image.
  insertRows(small, 4, 300);
  appendAll(appender, 4096, small.capture());
  CHECK(replicaContent(replica) == contentOf(small.db()));
  REQUIRE(appender.checkpointTruncate(1s));
  small.truncateWal();
  CHECK(copyOfFile(dir, replica, "replica-copy.db") == small.image());
}

TEST_CASE("malformed snapshot images are rejected and leave the replica unchanged") {
  TempDir dir;
  const std::string replica = dir.file("replica.db");
  Primary primary(dir.file("primary.db"), 4096);
  createKeyValueTable(primary, 60);
  makeReplica(primary, replica);
  const auto image = primary.image();
  REQUIRE(image.size() >= 4 * 4096);
  WalAppender appender(replica);
  insertRows(primary, 2, 100);
  appendAll(appender, 4096, primary.capture());
  const auto content = contentOf(primary.db());

  auto errorOf = [&](const std::vector<uint8_t>& bytes) {
    std::string message = "(no error)";
    REQUIRE(appender.beginSnapshot(4096) == AppendStatus::Applied);
    try {
      appender.addSnapshotBytes(bytes);
      (void)appender.commitSnapshot();
    } catch (const Error& e) {
      message = e.what();
    }
    CHECK_FALSE(appender.snapshotInProgress());
    CHECK(replicaContent(replica) == content);
    return message;
  };
  auto changed = [&](size_t offset, uint8_t value) {
    auto copy = image;
    copy[offset] = value;
    return copy;
  };
  CHECK(errorOf({}).find("is empty") != std::string::npos);
  CHECK(errorOf(std::vector<uint8_t>(image.begin(), image.end() - 100))
            .find("partial page of 3996 bytes") != std::string::npos);
  CHECK(errorOf(std::vector<uint8_t>(image.begin(), image.end() - 4096))
            .find("but its header says") != std::string::npos);
  CHECK(errorOf(changed(0, 'X')).find("does not start with a SQLite header") != std::string::npos);
  CHECK(errorOf(changed(16, 0x02)).find("declares page size") != std::string::npos);
  CHECK(errorOf(changed(18, 1)).find("is not in WAL mode") != std::string::npos);

  CHECK_THROWS_AS(appender.addSnapshotBytes(image), Error);  // no snapshot begun
  CHECK_THROWS_AS((void)appender.commitSnapshot(), Error);
  CHECK_THROWS_AS((void)appender.beginSnapshot(1024), Error);
  REQUIRE(appender.beginSnapshot(4096) == AppendStatus::Applied);
  CHECK_THROWS_AS((void)appender.beginSnapshot(4096), Error);
  insertRows(primary, 1, 100);
  const Captured next = primary.capture();
  CHECK_THROWS_AS((void)appender.appendTransactions(4096, next.transactions), Error);
  appender.abortSnapshot();
  CHECK(appender.appendTransactions(4096, next.transactions).status == AppendStatus::Applied);
  CHECK(replicaContent(replica) == contentOf(primary.db()));
  CHECK(contentAfterRecovery(dir, replica, "recovered") == contentOf(primary.db()));
}

TEST_CASE("an appender destroyed in the middle of a snapshot publishes nothing") {
  TempDir dir;
  const std::string replica = dir.file("replica.db");
  Primary primary(dir.file("primary.db"), 4096);
  createKeyValueTable(primary, 40);
  makeReplica(primary, replica);
  {
    WalAppender appender(replica);
    insertRows(primary, 2, 300);
    appendAll(appender, 4096, primary.capture());
  }
  const auto before = contentOf(primary.db());

  Primary other(dir.file("other.db"), 4096);
  createKeyValueTable(other, 300);
  other.truncateWal();
  const auto image = other.image();
  {
    WalAppender appender(replica);
    REQUIRE(appender.beginSnapshot(4096) == AppendStatus::Applied);
    appender.addSnapshotBytes(std::span(image).first(image.size() / 2 + 123));
  }  // dies here
  CHECK(replicaContent(replica) == before);
  CHECK(contentAfterRecovery(dir, replica, "recovered") == before);

  WalAppender appender(replica);
  insertRows(primary, 3, 300);
  appendAll(appender, 4096, primary.capture());
  CHECK(replicaContent(replica) == contentOf(primary.db()));
  CHECK(integrityOf(replica) == "ok");
}

// ---- Batches of primary transactions merged into one replica transaction (wal_batch.h) --------

namespace {

AppendResult appendMerged(WalAppender& appender, uint32_t pageSize, const Captured& captured,
                          WalBatchMerger& merger) {
  const WalTransaction merged = merger.merge(captured.transactions);
  for (int attempt = 0; attempt < 50; ++attempt) {
    AppendResult r = appender.appendTransactions(pageSize, {&merged, 1});
    if (r.status == AppendStatus::Applied) return r;
  }
  FAIL("the write lock stayed busy");
  return {};
}

}  // namespace

TEST_CASE("a merged batch ends exactly where the same transactions applied one by one end") {
  TempDir dir;
  const std::string oneByOne = dir.file("one-by-one.db");
  const std::string merged = dir.file("merged.db");
  // auto_vacuum=FULL: a DELETE moves pages down and commits a smaller database (nTruncate).
  Primary primary(dir.file("primary.db"), 4096, /*autoVacuum=*/true);
  createKeyValueTable(primary, 300);
  makeReplica(primary, oneByOne);
  writeBytes(merged, primary.image());
  WalAppender a(oneByOne);
  WalAppender b(merged);
  WalBatchMerger merger;
  auto& db = primary.db();
  std::mt19937 rng(77);
  int shrinkingBatches = 0, beyondFinalSize = 0, rewrittenPages = 0;
  for (int round = 0; round < 40; ++round) {
    CAPTURE(round);
    const int count = 1 + static_cast<int>(rng() % 12);
    for (int i = 0; i < count; ++i) {
      switch (rng() % 5) {
        case 0:  // the same rows over and over: the same pages in every transaction
          db.exec("UPDATE kv SET v = randomblob(200) WHERE k % 13 = " + std::to_string(i % 13));
          break;
        case 1:  // a large delete: the database shrinks
          db.exec("DELETE FROM kv WHERE k IN (SELECT k FROM kv ORDER BY random() LIMIT 80)");
          break;
        case 2:  // overflow pages that a later delete frees again
          insertRows(primary, 3, 9000);
          break;
        default:
          insertRows(primary, 1 + static_cast<int>(rng() % 20), static_cast<int>(rng() % 900));
      }
    }
    insertRows(primary, 1, 50);  // an UPDATE or DELETE that matched no row wrote nothing
    if (round % 10 == 9) {
      insertRows(primary, 50, 3000);  // grows, then a VACUUM-like shrink ends the batch
      db.exec("DELETE FROM kv WHERE k % 3 = 0");
    }
    const Captured captured = primary.capture();
    REQUIRE_FALSE(captured.transactions.empty());
    size_t frames = 0;
    uint32_t largest = 0;
    for (const auto& t : captured.transactions) {
      frames += t.frames.size();
      largest = std::max(largest, t.commitSize());
    }
    const uint32_t finalSize = captured.transactions.back().commitSize();
    const WalTransaction m = merger.merge(captured.transactions);
    CHECK(m.commitSize() == finalSize);
    rewrittenPages += static_cast<int>(frames - m.frames.size());
    if (finalSize < largest) ++shrinkingBatches;
    for (const auto& f : m.frames) beyondFinalSize += f.header.pageNumber > finalSize ? 1 : 0;

    const AppendResult ra = appendAll(a, 4096, captured);
    const AppendResult rb = appendMerged(b, 4096, captured, merger);
    CHECK(ra.nPage == rb.nPage);
    CHECK(rb.framesWritten == m.frames.size());
    CHECK(replicaContent(merged) == contentOf(db));
    CHECK(replicaContent(merged) == replicaContent(oneByOne));
    if (round % 8 == 7) {
      CHECK(integrityOf(merged) == "ok");
      // Recovery from the merged WAL alone gives the same database.
      CHECK(contentAfterRecovery(dir, merged, "recovered" + std::to_string(round)) ==
            contentOf(db));
    }
    if (round % 13 == 12) b.checkpointPassive();  // copies skip pages beyond the size
  }
  MESSAGE(shrinkingBatches << " batches shrank the database; " << beyondFinalSize
                           << " merged frames beyond their batch's final size; " << rewrittenPages
                           << " page versions dropped");
  CHECK(shrinkingBatches > 0);
  CHECK(beyondFinalSize > 0);
  CHECK(rewrittenPages > 0);
  CHECK(integrityOf(merged) == "ok");

  // Checkpointed, both replicas are the primary's bytes: pages beyond the size are not copied
  // into the database file, which is cut to the final size.
  REQUIRE(a.checkpointTruncate(5s));
  REQUIRE(b.checkpointTruncate(5s));
  primary.truncateWal();
  const auto expected = primary.image();
  CHECK(copyOfFile(dir, oneByOne, "one-by-one-copy.db") == expected);
  CHECK(copyOfFile(dir, merged, "merged-copy.db") == expected);
}

TEST_CASE("readers of merged batches see only the states between batches") {
  TempDir dir;
  const std::string replica = dir.file("replica.db");
  Primary primary(dir.file("primary.db"), 4096, /*autoVacuum=*/true);
  createBank(primary);
  makeReplica(primary, replica);
  std::vector<std::unique_ptr<ReaderProcess>> processes;
  processes.push_back(std::make_unique<ReaderProcess>(replica));

  WalAppender appender(replica);
  processes[0]->start();
  // A reader thread records every counter.txns it sees: each must be a batch boundary.
  std::atomic<bool> stop{false};
  std::vector<int64_t> seen;
  std::thread watcher([&] {
    auto conn = openReader(replica);
    while (!stop) {
      try {
        const int64_t txns = conn->queryInt("SELECT txns FROM counter");
        if (seen.empty() || seen.back() != txns) seen.push_back(txns);
      } catch (const std::exception&) {
        seen.push_back(-1);
      }
    }
  });
  ReaderStats threadStats;
  std::thread reader([&] {
    readBankUntil(
        replica, [&] { return stop.load(); }, threadStats);
  });

  WalBatchMerger merger;
  std::mt19937 rng(424242);
  std::set<int64_t> boundaries = {0};
  int64_t applied = 0;
  for (int batch = 0; applied < 1500; ++batch) {
    const int count = 1 + static_cast<int>(rng() % 40);
    for (int i = 0; i < count; ++i)
      bankTransaction(primary.db(), rng, static_cast<int>(applied + i));
    const Captured captured = primary.capture();
    REQUIRE(captured.transactions.size() == static_cast<size_t>(count));
    // The boundary is known before it is published, so the watcher can never see it unknown.
    boundaries.insert(applied + count);
    REQUIRE(appendMerged(appender, 4096, captured, merger).status == AppendStatus::Applied);
    applied += count;
    if (batch % 10 == 9) appender.checkpointPassive();
    if (batch % 25 == 24) (void)appender.checkpointTruncate(20ms);
    if (batch % 30 == 29) primary.truncateWal();
  }
  std::this_thread::sleep_for(50ms);
  stop = true;
  watcher.join();
  reader.join();
  checkReader(threadStats, "reader thread");
  checkReader(processes[0]->finish(), "reader process");
  CHECK(seen.size() > 5);
  for (int64_t txns : seen) {
    CAPTURE(txns);
    CHECK(boundaries.count(txns) == 1);
  }
  CHECK(seen.back() == applied);
  CHECK(integrityOf(replica) == "ok");
  CHECK(replicaContent(replica) == contentOf(primary.db()));
}

TEST_CASE("a write or fdatasync that fails in the middle of an append publishes nothing") {
  // Through the file-system seam (core/file_system.h): the appender's writes and syncs of the
  // -wal, and its growth of the -shm, fail part way through one large transaction.
  TempDir dir;
  const std::string replica = dir.file("replica.db");
  Primary primary(dir.file("primary.db"), 1024);
  createKeyValueTable(primary, 30);
  makeReplica(primary, replica);

  FaultyFileSystem fs;
  WalAppenderOptions options;  // WAL syncs on, as by default
  options.fileSystem = &fs;
  std::unique_ptr<ShmView> shm;  // declared before every connection to the replica
  WalAppender appender(replica, options);
  shm = std::make_unique<ShmView>(replica);
  insertRows(primary, 5, 300);
  appendAll(appender, 1024, primary.capture());
  const auto stateA = contentOf(primary.db());
  const uint32_t mxA = shm->header().mxFrame;

  // One transaction of about 4,500 frames: they are written in runs of about 1 MiB after the
  // WAL is extended with zeros, and their hash entries reach the -shm's second block (frames
  // from 4063 on), which grows the file.
  insertRows(primary, 4500, 900);
  const Captured batch = primary.capture();
  REQUIRE(batch.transactions.size() == 1);
  REQUIRE(mxA + batch.transactions.front().frames.size() > kWalIndexFirstBlockPages);

  auto oldReader = openReader(replica);
  oldReader->exec("BEGIN");
  CHECK(contentOf(*oldReader) == stateA);

  Fault fault;
  bool commitFrameWritten = false;  // a crash now would let SQLite's recovery find the commit
  SUBCASE("a short write of the second run of frames") {
    fault.op = FsOp::kWrite;
    fault.pathContains = replica + "-wal";
    fault.when = [](const FsCall& c) { return c.bytes >= (512 << 10); };  // not the zeros
    fault.nth = 2;
    fault.shortWriteBytes = 300'000;
  }
  SUBCASE("a full disk while the WAL is extended") {
    fault.op = FsOp::kWrite;
    fault.pathContains = replica + "-wal";
    fault.nth = 10;
    fault.error = ENOSPC;
    fault.shortWriteBytes = 1000;
  }
  SUBCASE("a failed fdatasync of the frames") {
    fault.op = FsOp::kSync;
    fault.pathContains = replica + "-wal";
    commitFrameWritten = true;
  }
  SUBCASE("a failed growth of the -shm") {
    fault.op = FsOp::kWrite;
    fault.pathContains = replica + "-shm";
    fault.error = ENOSPC;
    commitFrameWritten = true;
  }
  fs.addFault(fault);
  CHECK_THROWS_WITH_AS((void)appender.appendTransactions(1024, batch.transactions),
                       doctest::Contains(std::strerror(fault.error)), Error);
  REQUIRE(fs.injected() == 1);
  // The error is all there is to it: the header still ends at the previous commit, and readers,
  // old and new, see that state.
  CHECK(shm->header().mxFrame == mxA);
  CHECK(replicaContent(replica) == stateA);
  CHECK(contentOf(*oldReader) == stateA);
  CHECK(integrityOf(replica) == "ok");
  // Had the replica died now, SQLite's recovery would find at most the whole transaction.
  const auto recovered = contentAfterRecovery(dir, replica, "failed");
  if (commitFrameWritten) {
    CHECK((recovered == stateA || recovered == contentOf(primary.db())));
  } else {
    CHECK(recovered == stateA);
  }

  // Applied again once the file system works, the same transaction lands whole.
  fs.clearFaults();
  CHECK(appender.appendTransactions(1024, batch.transactions).status == AppendStatus::Applied);
  CHECK(shm->staleSlots() == 0);
  CHECK(replicaContent(replica) == contentOf(primary.db()));
  CHECK(contentOf(*oldReader) == stateA);
  oldReader->exec("COMMIT");
  CHECK(contentOf(*oldReader) == contentOf(primary.db()));
  CHECK(integrityOf(replica) == "ok");
  CHECK(contentAfterRecovery(dir, replica, "recovered") == contentOf(primary.db()));
}
