#include <doctest/doctest.h>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace walstream::test;

TEST_CASE("walstream version and --help") {
  TempDir dir;
  auto v = runToCompletion({WALSTREAM_BINARY, "version"}, dir.file("v"));
  CHECK(v.exitCode == 0);
  CHECK(v.out.rfind("walstream ", 0) == 0);
  auto h = runToCompletion({WALSTREAM_BINARY, "--help"}, dir.file("h"));
  CHECK(h.exitCode == 0);
  CHECK(h.out.find("primary") != std::string::npos);
  CHECK(h.out.find("replica") != std::string::npos);
}

TEST_CASE("unknown commands are usage errors with exit code 2") {
  TempDir dir;
  auto r = runToCompletion({WALSTREAM_BINARY, "frobnicate"}, dir.file("u"));
  CHECK(r.exitCode == 2);
  CHECK(r.err.find("frobnicate") != std::string::npos);
}
