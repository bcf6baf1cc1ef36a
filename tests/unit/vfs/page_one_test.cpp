// Page 1 as the VFS serves it (vfs/page_one.h), read back by SQLite's own rules.
#include <doctest/doctest.h>

#include <vector>

#include "vfs/page_one.h"

using namespace walstream::vfs;

namespace {

uint32_t bigEndian32(const std::vector<uint8_t>& p, size_t at) {
  return uint32_t{p[at]} << 24 | uint32_t{p[at + 1]} << 16 | uint32_t{p[at + 2]} << 8 | p[at + 3];
}

}  // namespace

TEST_CASE("page 1 is patched to rollback mode, the view's counter and its page count") {
  std::vector<uint8_t> page(4096, 0xab);
  page[18] = 2;  // WAL mode, as the primary's database is
  page[19] = 2;
  patchPageOne(page, 0x1'0000'0007, 12345);
  CHECK(page[18] == 1);
  CHECK(page[19] == 1);
  CHECK(bigEndian32(page, 24) == 7);  // the low 32 bits: compared for equality only
  CHECK(bigEndian32(page, 92) == 7);  // equal: SQLite trusts the in-header size
  CHECK(bigEndian32(page, 28) == 12345);
  // Everything else is the page as it was.
  CHECK(page[17] == 0xab);
  CHECK(page[20] == 0xab);
  CHECK(page[32] == 0xab);
  CHECK(page[91] == 0xab);
  CHECK(page[96] == 0xab);
}
