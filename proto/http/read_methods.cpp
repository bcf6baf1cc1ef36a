#include "proto/http/read_methods.h"

namespace walstream::httpd {

namespace http = boost::beast::http;

StringResponse methodNotAllowed(const std::string& method, const std::string& path,
                                const std::string& allow, unsigned version, bool keepAlive) {
  std::string use = allow;
  if (const auto comma = use.rfind(", "); comma != std::string::npos) {
    use.replace(comma, 2, " or ");
  }
  StringResponse res = makeJsonError(
      405, "method " + method + " not allowed on " + path + "; use " + use, version, keepAlive);
  res.set(http::field::allow, allow);
  return res;
}

void fitToMethod(StringResponse& res, http::verb method) {
  if (method != http::verb::head) return;
  res.content_length(res.body().size());
  res.body().clear();
}

}  // namespace walstream::httpd
