#include "server/capture/database_pages.h"

#include "core/byte_order.h"
#include "core/file_util.h"

namespace walstream {

uint64_t databasePageCount(int fd, const std::string& path, uint32_t pageSize) {
  uint8_t h[100];
  if (preadFull(fd, h, sizeof h, 0, path) == sizeof h) {
    const uint32_t count = loadBE32(h + 28);
    if (count != 0 && loadBE32(h + 24) == loadBE32(h + 92)) return count;
  }
  return (fileSize(fd, path) + pageSize - 1) / pageSize;
}

}  // namespace walstream
