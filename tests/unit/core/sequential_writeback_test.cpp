#include "core/sequential_writeback.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include "core/error.h"
#include "core/file_util.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using walstream::test::TempDir;

TEST_CASE("a file written under SequentialWriteback reads back whole") {
  TempDir dir;
  const std::string path = dir.file("image");
  UniqueFd fd = openFile(path, O_RDWR | O_CREAT | O_TRUNC);
  SequentialWriteback writeback(fd.get(), path, 8192);
  std::string expect;
  for (int i = 0; i < 40; ++i) {
    const std::string piece(3000 + i, static_cast<char>('a' + i % 26));
    writeFull(fd.get(), piece.data(), piece.size(), path);
    expect += piece;
    writeback.wrote(expect.size());
  }
  fsyncFd(fd.get(), path);
  CHECK(readFile(path) == expect);
}

// sync_file_range fails on a pipe (ESPIPE), as it would on a write error (EIO).
TEST_CASE("SequentialWriteback reports a descriptor it cannot flush") {
  UniqueFd pipeEnd;
  {
    int p[2];
    REQUIRE(::pipe(p) == 0);
    pipeEnd.reset(p[0]);
    ::close(p[1]);
  }
  SequentialWriteback writeback(pipeEnd.get(), "a pipe", 4096);
  CHECK_NOTHROW(writeback.wrote(100));  // below one window: nothing to do yet
  CHECK_THROWS_AS(writeback.wrote(8192), Error);
}
