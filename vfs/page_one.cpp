#include "vfs/page_one.h"

namespace walstream::vfs {

namespace {

void putBigEndian32(uint8_t* at, uint32_t v) {
  at[0] = static_cast<uint8_t>(v >> 24);
  at[1] = static_cast<uint8_t>(v >> 16);
  at[2] = static_cast<uint8_t>(v >> 8);
  at[3] = static_cast<uint8_t>(v);
}

}  // namespace

void patchPageOne(std::span<uint8_t> page, uint64_t version, uint32_t pageCount) {
  page[18] = 1;
  page[19] = 1;
  // The counter wraps after 2^32 views; SQLite compares it for equality only.
  const auto counter = static_cast<uint32_t>(version);
  putBigEndian32(&page[24], counter);
  putBigEndian32(&page[28], pageCount);
  putBigEndian32(&page[92], counter);
}

}  // namespace walstream::vfs
