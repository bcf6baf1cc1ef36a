// Where the newest version of each page lives when it is not in the snapshot: page number ->
// (WAL segment, offset of the page in the segment's decompressed bytes). docs/vfs.md §3.
//
// A view (view.h) is immutable, yet the poller extends the map every second: the map is kept in
// chunks of kChunkPages pages, and share() hands out a copy that shares every chunk. A later
// put() into a shared chunk copies that chunk first (copy on write), so publishing a view costs
// one pointer per chunk and a poll copies only the chunks its commits touched.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace walstream::vfs {

// One WAL segment of a backup: an LZ4 frame inside a WAL object (docs/backup.md §4).
struct WalSegmentRef {
  std::string objectKey;
  uint64_t frameOffset = 0;  // of its LZ4 frame in the object
  uint64_t frameBytes = 0;   // compressed
  uint64_t walOffset = 0;    // WAL offset it starts at (0: it begins with the WAL header)
  uint64_t walBytes = 0;     // decompressed
};

struct WalPage {
  std::shared_ptr<const WalSegmentRef> segment;  // null: the page is not in the WAL
  uint32_t pageOffset = 0;                       // of the page bytes in the decompressed segment
};

class PageMap {
 public:
  static constexpr uint32_t kChunkPages = 1024;

  // The WAL location of page `page` (1-based), or null when the snapshot holds it.
  const WalPage* find(uint32_t page) const;
  void put(uint32_t page, WalPage location);
  // Forgets the pages past `pageCount` (a commit that shrank the database).
  void truncate(uint32_t pageCount);
  // A copy sharing every chunk; this map copies a chunk before it next changes one.
  PageMap share();
  size_t pages() const { return pages_; }  // pages that have a WAL location

 private:
  using Chunk = std::array<WalPage, kChunkPages>;
  // Chunk c, created or copied so that this map alone holds it.
  Chunk& writable(size_t c);

  std::vector<std::shared_ptr<Chunk>> chunks_;  // null: no page of the chunk is in the WAL
  std::vector<bool> owned_;                     // chunks_[i] is this map's alone: put() in place
  size_t pages_ = 0;
};

}  // namespace walstream::vfs
