// The slow half of capture's checkpoint, off the capture thread.
//
// Before the WAL may restart, every shadow segment must be durable (shadow_wal.h) and the WAL
// backfilled into the database file. Both are slow: a syncfs or a few hundred fsyncs, and a
// PASSIVE checkpoint writing up to a WAL's worth of pages with two fsyncs, tens of milliseconds
// together under load. On the capture thread that stalled every replica for as long. Here they
// run on a worker while capture keeps copying and publishing; the hand-off that follows
// (WalCapture::handOff) is left with the few segments and frames written meanwhile.
//
// One job at a time. The worker's SQLite connection is used by the worker thread only. Between
// jobs it also refills the segment file pool (segment_file_pool.h) when asked.
#pragma once

#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/pos.h"

namespace walstream {

class SegmentFilePool;
class ShadowWal;
class SqliteConnection;

class CheckpointWorker {
 public:
  CheckpointWorker(const std::string& dbPath, const ShadowWal& shadow, SegmentFilePool& pool,
                   int busyTimeoutMs);
  ~CheckpointWorker();  // waits for a running job
  CheckpointWorker(const CheckpointWorker&) = delete;
  CheckpointWorker& operator=(const CheckpointWorker&) = delete;

  // Starts making `segments` durable, then runs `afterDurable` (on the worker thread; the
  // caller must not use what it touches until the job is done), then a PASSIVE checkpoint.
  // Requires !busy().
  void start(std::vector<Pos> segments, std::function<void()> afterDurable = {});
  bool busy() const;
  // Waits until no job runs.
  void wait();
  // Rethrows the failure of the last job or refill, once. The segments of a job that failed
  // before they were all durable are first put back at the front of *notDurable: the caller
  // still owes their fsync before anything lets the WAL restart.
  void rethrowFailure(std::vector<Pos>* notDurable);
  // Asks for the segment file pool to be refilled (SegmentFilePool::fill) in the background.
  void refillPool();

 private:
  void run(std::stop_token stop);

  const ShadowWal& shadow_;
  SegmentFilePool& pool_;
  std::unique_ptr<SqliteConnection> connection_;  // worker thread only, after construction

  mutable std::mutex mu_;
  std::condition_variable_any changed_;
  struct Job {
    std::vector<Pos> segments;
    std::function<void()> afterDurable;
  };
  std::optional<Job> job_;  // set by start(), cleared when done
  bool refill_ = false;     // set by refillPool(), cleared when done
  std::exception_ptr failure_;
  std::vector<Pos> notDurable_;  // a failed job's segments, until rethrowFailure()
  std::jthread thread_;          // last: started after everything it uses exists
};

}  // namespace walstream
