#include "bench/row_writer.h"

#include <sqlite3.h>

#include <array>
#include <thread>

#include "core/error.h"
#include "core/file_util.h"

namespace walstream::bench {

void createRowsDatabase(const std::string& path) {
  if (pathExists(path)) throw Error("cannot create " + path + ": it exists");
  SqliteConnection c(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  if (c.queryText("PRAGMA journal_mode=WAL") != "wal") {
    throw Error("cannot put " + path + " in WAL mode");
  }
  c.exec("CREATE TABLE rows(id INTEGER PRIMARY KEY, ts INTEGER NOT NULL, payload BLOB NOT NULL)");
}

RowWriter::RowWriter(const std::string& path) : conn_(path) {
  conn_.exec("PRAGMA synchronous=NORMAL");
  // walstream's checkpoints take the write lock for a moment; an application waits for it.
  conn_.setBusyTimeout(5000);
  insert_ =
      std::make_unique<SqliteStatement>(conn_, "INSERT INTO rows(ts, payload) VALUES(?1, ?2)");
}

WriteRun RowWriter::write(const WritePlan& plan, const std::function<void()>& afterEachCommit) {
  using Clock = std::chrono::steady_clock;
  WriteRun run;
  if (plan.recordCommitTimes) run.commitTimes.reserve(static_cast<size_t>(plan.maxRows));
  std::array<uint64_t, 100 / sizeof(uint64_t) + 1> payload{};
  const auto start = Clock::now();
  const auto end = start + plan.duration;
  const auto interval = plan.perSecond > 0
                            ? std::chrono::nanoseconds(1'000'000'000 / plan.perSecond)
                            : std::chrono::nanoseconds(0);
  auto lastCommit = start;
  for (int64_t i = 0; i < plan.maxRows; ++i) {
    if (plan.perSecond > 0) {
      const auto due = start + i * interval;
      if (due >= end) break;
      std::this_thread::sleep_until(due);  // the workload's pace, not a wait for a condition
    } else if (Clock::now() >= end) {
      break;
    }
    for (auto& word : payload) word = rng_();
    const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::system_clock::now().time_since_epoch());
    insert_->bind(1, static_cast<int64_t>(micros.count())).bindBlob(2, payload.data(), 100);
    // An INSERT outside BEGIN is its own transaction: step() returns once it has committed.
    insert_->step();
    lastCommit = Clock::now();
    insert_->reset();
    if (i == 0) run.firstId = sqlite3_last_insert_rowid(conn_.handle());
    if (plan.recordCommitTimes) run.commitTimes.push_back(lastCommit);
    if (afterEachCommit) afterEachCommit();
    ++run.rows;
  }
  run.seconds = std::chrono::duration<double>(lastCommit - start).count();
  return run;
}

}  // namespace walstream::bench
