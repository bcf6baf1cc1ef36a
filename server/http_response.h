// Building the server's non-streaming HTTP answers.
#pragma once

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <string>

namespace walstream::server {

using StringResponse = boost::beast::http::response<boost::beast::http::string_body>;

StringResponse makeResponse(unsigned status, const std::string& contentType, std::string body,
                            unsigned version, bool keepAlive);

// {"error": "..."}; `retryable` adds "Retry-After: 1".
StringResponse makeJsonError(unsigned status, const std::string& message, unsigned version,
                             bool keepAlive, bool retryable = false);

}  // namespace walstream::server
