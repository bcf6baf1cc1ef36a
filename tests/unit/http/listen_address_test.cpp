#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "proto/http/listen_address.h"

using namespace walstream::httpd;

TEST_CASE("listen addresses: :PORT, HOST:PORT, [IPV6]:PORT") {
  auto a = parseListenAddress(":9090");
  CHECK(a.host == "");
  CHECK(a.port == 9090);
  a = parseListenAddress("127.0.0.1:0");
  CHECK(a.host == "127.0.0.1");
  CHECK(a.port == 0);
  a = parseListenAddress("[::1]:65535");
  CHECK(a.host == "::1");
  CHECK(a.port == 65535);
  a = parseListenAddress("localhost:80");
  CHECK(a.host == "localhost");
  for (const char* bad : {"", "9090", ":", ":x", ":65536", ":-1", "::1:9090", "[::1]", "[::1]9090",
                          "[]:80", "[::1:80", "host:80x"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parseListenAddress(bad), std::invalid_argument);
  }
}

TEST_CASE("a listen address that is refused says what it is and what is wanted") {
  try {
    parseListenAddress("::1:9090");
    FAIL("accepted");
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    CHECK(what.find("\"::1:9090\"") != std::string::npos);
    CHECK(what.find("[brackets]") != std::string::npos);
    CHECK(what.find("want :PORT, HOST:PORT or [IPV6]:PORT") != std::string::npos);
  }
}
