#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cli/flags.h"

using namespace walstream::cli;

namespace {

Flags replicaLike() {
  Flags f;
  f.defineRepeatable("upstream", "URL", "the primary");
  f.define("db", "NAME", "", "database");
  return f;
}

}  // namespace

TEST_CASE("a repeatable flag keeps every value in order; str() is the last") {
  Flags f = replicaLike();
  REQUIRE(f.parse({"--upstream", "http://a:1", "--upstream=http://b:2", "local.db"}));
  CHECK(f.list("upstream") == std::vector<std::string>{"http://a:1", "http://b:2"});
  CHECK(f.str("upstream") == "http://b:2");
  CHECK(f.given("upstream"));
  CHECK(f.positional() == std::vector<std::string>{"local.db"});
  CHECK(f.help().find("may be given more than once") != std::string::npos);
}

TEST_CASE("a config file's list yields to the command line's values as a whole") {
  Flags fromFile = replicaLike();
  REQUIRE(fromFile.parse({}));
  fromFile.setFromFile("upstream", "http://a:1", "r.yml:2");
  fromFile.setFromFile("upstream", "http://b:2", "r.yml:3");
  CHECK(fromFile.list("upstream") == std::vector<std::string>{"http://a:1", "http://b:2"});

  Flags both = replicaLike();
  REQUIRE(both.parse({"--upstream", "http://c:3"}));
  both.setFromFile("upstream", "http://a:1", "r.yml:2");
  both.setFromFile("upstream", "http://b:2", "r.yml:3");
  CHECK(both.list("upstream") == std::vector<std::string>{"http://c:3"});
}
