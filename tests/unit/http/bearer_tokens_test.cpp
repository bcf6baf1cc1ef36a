// Token files and the Authorization check (proto/http/bearer_tokens.h).
#include <doctest/doctest.h>

#include <fstream>

#include "core/error.h"
#include "proto/http/bearer_tokens.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::httpd;

TEST_CASE("a token file: one token per line, blanks, CRs and # comments skipped") {
  const auto tokens = parseTokenFile("# ops\n\n  alpha  \r\nbeta\n#gamma\n\t\ndelta", "f");
  CHECK(tokens == std::vector<std::string>{"alpha", "beta", "delta"});
  CHECK(parseTokenFile("", "f").empty());
  CHECK(parseTokenFile("# only a comment\n", "f").empty());
}

TEST_CASE("a token with a blank inside is an error naming the file and line, not the token") {
  try {
    parseTokenFile("ok\nsecret part\n", "/etc/tokens");
    FAIL("no error");
  } catch (const Error& e) {
    const std::string what = e.what();
    CHECK(what.find("/etc/tokens line 2") != std::string::npos);
    CHECK(what.find("secret") == std::string::npos);
  }
}

TEST_CASE(
    "only Bearer and one of the tokens authorizes; a reload replaces them, a bad one keeps "
    "them") {
  test::TempDir dir;
  const std::string file = dir.file("tokens");
  std::ofstream(file) << "alpha\nbeta\n";
  BearerTokens tokens(file);
  CHECK(tokens.count() == 2);
  CHECK(tokens.authorizes("Bearer alpha"));
  CHECK(tokens.authorizes("bearer beta"));
  CHECK(tokens.authorizes("Bearer   beta "));
  CHECK_FALSE(tokens.authorizes(""));
  CHECK_FALSE(tokens.authorizes("Bearer "));
  CHECK_FALSE(tokens.authorizes("Bearer alph"));
  CHECK_FALSE(tokens.authorizes("Bearer alphaa"));
  CHECK_FALSE(tokens.authorizes("Basic alpha"));
  CHECK_FALSE(tokens.authorizes("alpha"));

  std::ofstream(file, std::ios::trunc) << "gamma\n";
  tokens.reload();
  CHECK(tokens.authorizes("Bearer gamma"));
  CHECK_FALSE(tokens.authorizes("Bearer alpha"));

  std::ofstream(file, std::ios::trunc) << "# none\n";
  CHECK_THROWS_WITH_AS(tokens.reload(), doctest::Contains("holds no token"), Error);
  CHECK(tokens.authorizes("Bearer gamma"));
}

TEST_CASE("a missing or empty token file is refused at once, naming it") {
  test::TempDir dir;
  CHECK_THROWS_WITH_AS(BearerTokens(dir.file("none")), doctest::Contains("token file: cannot open"),
                       Error);
  std::ofstream(dir.file("empty")) << "\n\n";
  CHECK_THROWS_WITH_AS(BearerTokens(dir.file("empty")), doctest::Contains("holds no token"), Error);
  std::ofstream(dir.file("one")) << "# upstream\nsecret\nother\n";
  CHECK(readUpstreamToken(dir.file("one")) == "secret");
  CHECK_THROWS_AS(readUpstreamToken(dir.file("empty")), Error);
}
