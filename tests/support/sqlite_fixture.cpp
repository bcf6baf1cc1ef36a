#include "tests/support/sqlite_fixture.h"

#include <fcntl.h>
#include <sqlite3.h>

#include "core/error.h"
#include "core/file_util.h"
#include "core/wal_format.h"

namespace walstream::test {

std::unique_ptr<SqliteConnection> openRowsDatabase(const std::string& path) {
  auto conn = openWalDatabase(path);
  conn->setBusyTimeout(5000);
  conn->exec("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)");
  return conn;
}

std::unique_ptr<SqliteConnection> openWalDatabase(const std::string& path,
                                                  const WalDbOptions& options) {
  auto conn = std::make_unique<SqliteConnection>(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  // page_size must precede journal_mode: the first write fixes the page size of a new file.
  conn->exec("PRAGMA page_size=" + std::to_string(options.pageSize));
  std::string mode = conn->queryText("PRAGMA journal_mode=WAL");
  if (mode != "wal") throw Error("cannot switch " + path + " to WAL mode (got \"" + mode + "\")");
  conn->exec("PRAGMA wal_autocheckpoint=" + std::to_string(options.autocheckpointPages));
  if (options.keepWalOnClose) {
    conn->setPersistWal(true);
    int rc = sqlite3_db_config(conn->handle(), SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
    if (rc != SQLITE_OK) conn->fail("SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE failed", rc);
  }
  return conn;
}

std::vector<std::string> queryRows(SqliteConnection& conn, std::string_view sql) {
  sqlite3_stmt* raw = nullptr;
  int rc =
      sqlite3_prepare_v2(conn.handle(), sql.data(), static_cast<int>(sql.size()), &raw, nullptr);
  std::unique_ptr<sqlite3_stmt, decltype(&sqlite3_finalize)> stmt(raw, &sqlite3_finalize);
  if (rc != SQLITE_OK) conn.fail("cannot prepare \"" + std::string(sql) + "\"", rc);
  std::vector<std::string> rows;
  const int columns = sqlite3_column_count(stmt.get());
  while ((rc = sqlite3_step(stmt.get())) == SQLITE_ROW) {
    std::string row;
    for (int i = 0; i < columns; ++i) {
      if (i > 0) row += '|';
      if (const unsigned char* text = sqlite3_column_text(stmt.get(), i)) {
        row.append(reinterpret_cast<const char*>(text),
                   static_cast<size_t>(sqlite3_column_bytes(stmt.get(), i)));
      }
    }
    rows.push_back(std::move(row));
  }
  if (rc != SQLITE_DONE) conn.fail("\"" + std::string(sql) + "\" failed", rc);
  return rows;
}

std::vector<uint8_t> readBytes(const std::string& path) {
  std::string s = readFile(path);
  return {s.begin(), s.end()};
}

void writeBytes(const std::string& path, std::span<const uint8_t> bytes) {
  UniqueFd fd = openFile(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  writeFull(fd.get(), bytes.data(), bytes.size(), path);
}

std::vector<WalSlice> splitWalAtCommits(std::span<const uint8_t> wal, size_t transactionsPerSlice) {
  std::vector<WalSlice> slices;
  auto header = WalHeader::decode(wal);
  if (!header || transactionsPerSlice == 0) return slices;
  const size_t frameSize = header->pageSize + kWalFrameHeaderSize;
  size_t sliceStart = 0;
  size_t frames = 0;  // frames since sliceStart
  size_t transactions = 0;
  size_t lastCommitEnd = 0;  // end of the last commit frame since sliceStart, 0 when none
  size_t framesToLastCommit = 0;
  auto cut = [&](size_t end) {
    WalSlice s;
    s.offset = sliceStart;
    s.bytes.assign(wal.begin() + static_cast<ptrdiff_t>(sliceStart),
                   wal.begin() + static_cast<ptrdiff_t>(end));
    s.frames = framesToLastCommit;
    s.transactions = transactions;
    slices.push_back(std::move(s));
    sliceStart = end;
    frames = transactions = lastCommitEnd = framesToLastCommit = 0;
  };
  for (size_t pos = kWalHeaderSize; pos + frameSize <= wal.size(); pos += frameSize) {
    WalFrameHeader h = WalFrameHeader::decode(wal.data() + pos);
    if (h.salt1 != header->salt1 || h.salt2 != header->salt2) break;
    ++frames;
    if (!h.isCommit()) continue;
    ++transactions;
    lastCommitEnd = pos + frameSize;
    framesToLastCommit = frames;
    if (transactions == transactionsPerSlice) cut(lastCommitEnd);
  }
  if (transactions > 0) cut(lastCommitEnd);
  return slices;
}

}  // namespace walstream::test
