// The replica's command line, with the real binary: --min-checkpoint-pages and
// --max-checkpoint-pages are checked as the primary checks them (each 1 to 2^32 - 1, max not
// below min) instead of being cut to 32 bits.
#include <doctest/doctest.h>

#include <algorithm>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace walstream::test;
using namespace std::chrono_literals;

TEST_CASE("walstream replica refuses checkpoint page counts the primary would refuse") {
  TempDir dir;
  struct Case {
    std::vector<std::string> flags;
    std::string error;
  };
  const std::string range = ": want 1 to 4294967295";
  const std::vector<Case> cases = {
      {{"--min-checkpoint-pages", "0"}, "invalid value \"0\" for --min-checkpoint-pages" + range},
      {{"--max-checkpoint-pages", "0"}, "invalid value \"0\" for --max-checkpoint-pages" + range},
      // 2^32 + 1000: cut to 32 bits it was 1000, the default.
      {{"--min-checkpoint-pages", "4294968296"},
       "invalid value \"4294968296\" for --min-checkpoint-pages" + range},
      {{"--max-checkpoint-pages", "99999999999"},
       "invalid value \"99999999999\" for --max-checkpoint-pages" + range},
      {{"--min-checkpoint-pages", "-1"},
       "invalid value \"-1\" for --min-checkpoint-pages: want a whole number"},
      {{"--min-checkpoint-pages", "500", "--max-checkpoint-pages", "100"},
       "--max-checkpoint-pages (100) must not be below --min-checkpoint-pages (500)"},
      {{"--min-checkpoint-pages", "20000"},
       "--max-checkpoint-pages (10000) must not be below --min-checkpoint-pages (20000)"},
  };
  int i = 0;
  for (const auto& c : cases) {
    CAPTURE(c.error);
    // Port 1 is never a primary: a replica that started would retry it until killed.
    std::vector<std::string> argv = {WALSTREAM_BINARY, "replica", "--upstream",
                                     "http://127.0.0.1:1"};
    argv.insert(argv.end(), c.flags.begin(), c.flags.end());
    argv.push_back(dir.file("replica.db"));
    const auto r = runToCompletion(argv, dir.file("run" + std::to_string(i++)), 10s);
    CHECK(r.exitCode == 2);
    CHECK(r.err == "walstream replica: " + c.error + "\n");
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
}
