// The newest version of each page written by a run of transactions, written to the database
// file once, in page order.
//
// A restore replays transactions that mostly rewrite the same few pages (a table's last leaf,
// its parents, the header page): written one frame at a time, a WAL of a million transactions
// costs millions of system calls for a file of a few thousand pages. The file's content is the
// same either way: each page ends up as the last frame that wrote it, and pages past the last
// commit's size are cut off by the caller's final truncate.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <unordered_map>

namespace walstream::backup {

class PageBatch {
 public:
  PageBatch(int fd, std::string path, uint32_t pageSize)
      : fd_(fd), path_(std::move(path)), pageSize_(pageSize) {}

  // Page `pageNumber` (1-based) now holds `page`, which must stay valid until flush().
  void put(uint32_t pageNumber, std::span<const uint8_t> page) { pages_[pageNumber] = page; }
  // Writes the pages put since the last flush, runs of consecutive pages with one call each,
  // and forgets them. Throws Error naming the file.
  void flush();

 private:
  const int fd_;
  const std::string path_;
  const uint32_t pageSize_;
  std::unordered_map<uint32_t, std::span<const uint8_t>> pages_;
};

}  // namespace walstream::backup
