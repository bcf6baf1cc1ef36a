#include <doctest/doctest.h>

#include <string>
#include <utility>

#include "proto/query_string.h"

using namespace walstream::proto;

TEST_CASE("query components are percent-decoded, '+' as a space") {
  CHECK(percentDecode("a+b%20c") == "a b c");
  CHECK(percentDecode("%e2%82%AC") == "\xe2\x82\xac");
  CHECK(percentDecode("app%2Edb") == "app.db");
  for (const char* bad : {"app%2", "app%g1", "app%", "%%41"}) {
    CHECK_THROWS_AS(percentDecode(bad), QueryStringError);
  }
}

TEST_CASE("percentEncode keeps unreserved bytes and '/', and decodes back to its input") {
  CHECK(percentEncode("data/app-1_x.db~") == "data/app-1_x.db~");
  CHECK(percentEncode("other db+%.db") == "other%20db%2B%25.db");
  CHECK(percentEncode("a=b&c") == "a%3Db%26c");
  std::string every;
  for (int c = 0; c < 256; ++c) every += static_cast<char>(c);
  CHECK(percentDecode(percentEncode(every)) == every);
}

TEST_CASE("a query string splits into decoded pairs in order") {
  auto pairs = parseQueryString("a=1&&b&c=%3D&=x");
  REQUIRE(pairs.size() == 4);
  CHECK(pairs[0] == std::make_pair(std::string("a"), std::string("1")));
  CHECK(pairs[1] == std::make_pair(std::string("b"), std::string("")));
  CHECK(pairs[2] == std::make_pair(std::string("c"), std::string("=")));
  CHECK(pairs[3] == std::make_pair(std::string(""), std::string("x")));
  CHECK(parseQueryString("").empty());
  CHECK_THROWS_AS(parseQueryString("a=1&timeout=%zz"), QueryStringError);
}

TEST_CASE("quoted request values are cut to 64 bytes, naming the length") {
  CHECK(quoteQueryValue("app.db") == "\"app.db\"");
  CHECK(quoteQueryValue(std::string(64, 'a')) == "\"" + std::string(64, 'a') + "\"");
  CHECK(quoteQueryValue(std::string(65, 'a')) == "\"" + std::string(64, 'a') + "...\" (65 bytes)");
}
