#include "proto/http/response.h"

#include <nlohmann/json.hpp>

namespace walstream::httpd {

namespace http = boost::beast::http;

StringResponse makeResponse(unsigned status, const std::string& contentType, std::string body,
                            unsigned version, bool keepAlive) {
  StringResponse res{static_cast<http::status>(status), version};
  res.set(http::field::server, "walstream");
  res.set(http::field::content_type, contentType);
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(keepAlive);
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

StringResponse makeJsonError(unsigned status, const std::string& message, unsigned version,
                             bool keepAlive, bool retryable) {
  // Replacement of invalid UTF-8: a message may quote bytes from the request.
  std::string body = nlohmann::json{{"error", message}}.dump(
                         -1, ' ', false, nlohmann::json::error_handler_t::replace) +
                     "\n";
  StringResponse res =
      makeResponse(status, "application/json", std::move(body), version, keepAlive);
  if (retryable) res.set(http::field::retry_after, "1");
  return res;
}

StringResponse makeUnauthorized(unsigned version, bool keepAlive) {
  StringResponse res = makeJsonError(
      401, "authentication required: send Authorization: Bearer <token>", version, keepAlive);
  res.set(http::field::www_authenticate, "Bearer realm=\"walstream\"");
  return res;
}

}  // namespace walstream::httpd
