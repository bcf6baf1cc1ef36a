// The answers both servers build whole (all but the primary's /stream): the headers they share
// and the JSON error body {"error": "..."}.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>

namespace walstream::httpd {

using StringResponse = boost::beast::http::response<boost::beast::http::string_body>;

// Server: walstream, Cache-Control: no-store (every answer describes the moment it is asked),
// Content-Length of `body`.
StringResponse makeResponse(unsigned status, const std::string& contentType, std::string body,
                            unsigned version, bool keepAlive);

// {"error": "<message>"} and a newline, as application/json; `retryable` adds "Retry-After: 1".
// Invalid UTF-8 in `message` (it may quote the request) is replaced, so the body is valid JSON.
StringResponse makeJsonError(unsigned status, const std::string& message, unsigned version,
                             bool keepAlive, bool retryable = false);

// 401 with "WWW-Authenticate: Bearer" (RFC 6750, 3): the request had no valid bearer token.
StringResponse makeUnauthorized(unsigned version, bool keepAlive);

}  // namespace walstream::httpd
