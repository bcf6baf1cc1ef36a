#include <doctest/doctest.h>

#include <boost/beast/http/write.hpp>
#include <sstream>

#include "proto/http/read_methods.h"
#include "proto/http/response.h"

using namespace walstream::httpd;
namespace http = boost::beast::http;

namespace {

// The bytes a response puts on the wire.
std::string wireText(const StringResponse& res) {
  std::ostringstream out;
  out << res;
  return out.str();
}

}  // namespace

TEST_CASE("JSON errors: {\"error\": ...}, valid UTF-8 whatever the message, Retry-After on ask") {
  StringResponse res = makeJsonError(404, "no such path: /\xff", 11, true);
  CHECK(res.result_int() == 404);
  CHECK(res[http::field::content_type] == "application/json");
  CHECK(res[http::field::cache_control] == "no-store");
  CHECK(res[http::field::server] == "walstream");
  CHECK(res.body() == "{\"error\":\"no such path: /\xef\xbf\xbd\"}\n");
  CHECK(res[http::field::content_length] == std::to_string(res.body().size()));
  CHECK(res[http::field::retry_after].empty());
  CHECK(res.keep_alive());
  CHECK(makeJsonError(503, "busy", 11, false, true)[http::field::retry_after] == "1");
}

TEST_CASE("405 names the method and the path, and Allow what is served") {
  StringResponse both = methodNotAllowed("POST", "/status", kAllowGetAndHead, 11, true);
  CHECK(both.result_int() == 405);
  CHECK(both[http::field::allow] == "GET, HEAD");
  CHECK(both.body() == "{\"error\":\"method POST not allowed on /status; use GET or HEAD\"}\n");
  StringResponse get = methodNotAllowed("HEAD", "/stream", "GET", 11, true);
  CHECK(get[http::field::allow] == "GET");
  CHECK(get.body().find("; use GET\"") != std::string::npos);
  CHECK(isGetOrHead(http::verb::get));
  CHECK(isGetOrHead(http::verb::head));
  CHECK_FALSE(isGetOrHead(http::verb::post));
}

TEST_CASE("HEAD gets GET's status and headers, Content-Length included, and no body") {
  StringResponse get = makeResponse(200, "application/json", "{\"status\":\"ok\"}\n", 11, true);
  StringResponse head = get;
  fitToMethod(get, http::verb::get);
  fitToMethod(head, http::verb::head);
  CHECK(get.body() == "{\"status\":\"ok\"}\n");
  CHECK(head.body().empty());
  CHECK(head[http::field::content_length] == "16");
  const std::string getText = wireText(get), headText = wireText(head);
  CHECK(getText == headText + "{\"status\":\"ok\"}\n");
  CHECK(headText.size() >= 4);
  CHECK(headText.substr(headText.size() - 4) == "\r\n\r\n");
}

TEST_CASE("401 asks for a bearer token (WWW-Authenticate) with a JSON error") {
  const std::string wire = wireText(makeUnauthorized(11, true));
  CHECK(wire.rfind("HTTP/1.1 401 Unauthorized\r\n", 0) == 0);
  CHECK(wire.find("\r\nWWW-Authenticate: Bearer realm=\"walstream\"\r\n") != std::string::npos);
  CHECK(wire.find("{\"error\":\"authentication required") != std::string::npos);
}
