// Readers that scan the whole rows table of a replica at full speed, each on its own stock
// read-only SQLite connection (no busy timeout, so any SQLITE_BUSY counts as an error). Every
// scan is one read transaction and checks what a consistent state must satisfy: ids are
// consecutive (count = max - min + 1) and every payload has 100 bytes.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace walstream::bench {

class TableScanners {
 public:
  TableScanners(const std::string& replicaDb, int readers, std::chrono::milliseconds maxRun);
  ~TableScanners();
  TableScanners(const TableScanners&) = delete;
  TableScanners& operator=(const TableScanners&) = delete;

  void stop();
  uint64_t scans() const { return scans_.load(); }
  uint64_t rowsScanned() const { return rowsScanned_.load(); }
  uint64_t errors() const { return errors_.load(); }  // SQLite errors and inconsistent scans
  std::string firstError() const;

 private:
  void scan(const std::string& replicaDb, std::chrono::steady_clock::time_point deadline);
  void problem(const std::string& what);

  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> scans_{0};
  std::atomic<uint64_t> rowsScanned_{0};
  std::atomic<uint64_t> errors_{0};
  mutable std::mutex mu_;
  std::string firstError_;
  std::vector<std::thread> threads_;
};

}  // namespace walstream::bench
