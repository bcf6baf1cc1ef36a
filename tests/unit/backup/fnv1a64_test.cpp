#include <doctest/doctest.h>

#include <string>

#include "backup/fnv1a64.h"
#include "core/lz4_codec.h"

using namespace walstream;
using namespace walstream::backup;

TEST_CASE("fnv1a64 is the standard FNV-1a 64, so any tool can check a backup's sums") {
  // Reference values of the FNV specification's test suite.
  CHECK(fnv1a64(asBytes(std::string())) == 0xcbf29ce484222325ULL);
  CHECK(fnv1a64(asBytes(std::string("a"))) == 0xaf63dc4c8601ec8cULL);
  CHECK(fnv1a64(asBytes(std::string("foobar"))) == 0x85944171f73967e8ULL);
}
