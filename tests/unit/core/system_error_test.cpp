#include <doctest/doctest.h>

#include <fcntl.h>

#include <cerrno>
#include <string>

#include "core/error.h"
#include "core/file_util.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;

TEST_CASE("throwSystemError keeps the errno beside the message") {
  try {
    throwSystemError("cannot open", "/x/y", ENOSPC);
    FAIL("no exception");
  } catch (const SystemError& e) {
    CHECK(e.code() == ENOSPC);
    CHECK(std::string(e.what()) == "cannot open /x/y: No space left on device");
  }
}

TEST_CASE("a failed file operation surfaces its errno") {
  TempDir dir;
  try {
    openFile(dir.file("missing/file"), O_RDONLY);
    FAIL("no exception");
  } catch (const SystemError& e) {
    CHECK(e.code() == ENOENT);
  }
}
