// Which methods the endpoints of both servers take. Every endpoint that serves GET serves HEAD
// too (RFC 9110, 9.3.2): the status and headers GET would get, Content-Length included, and no
// body; the connection may then stay open. The one exception is the primary's /stream, whose
// answer is a stream planned only as it starts (server/README.md). Any other method is 405.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <string>

#include "proto/http/response.h"

namespace walstream::httpd {

// The "Allow" of an endpoint that serves GET and HEAD.
inline constexpr const char* kAllowGetAndHead = "GET, HEAD";

inline bool isGetOrHead(boost::beast::http::verb method) {
  return method == boost::beast::http::verb::get || method == boost::beast::http::verb::head;
}

// 405 naming the method and the path, with "Allow: <allow>".
StringResponse methodNotAllowed(const std::string& method, const std::string& path,
                                const std::string& allow, unsigned version, bool keepAlive);

// Makes `res`, complete with its body, the answer to `method`: for HEAD the body is dropped and
// Content-Length stays the body's.
void fitToMethod(StringResponse& res, boost::beast::http::verb method);

}  // namespace walstream::httpd
