#include "client/upstream.h"

#include "core/error.h"
#include "proto/http/bearer_tokens.h"

namespace walstream::client {

Upstream parseUpstream(const std::string& url) {
  auto fail = [&](const std::string& why) -> Upstream {
    throw Error("invalid upstream URL \"" + url + "\": " + why);
  };
  const bool tls = url.rfind("https://", 0) == 0;
  if (!tls && url.rfind("http://", 0) != 0)
    return fail("want http://HOST:PORT or https://HOST:PORT");
  const std::string defaultPort = tls ? "443" : "80";
  std::string rest = url.substr(url.find("://") + 3);
  if (!rest.empty() && rest.back() == '/') rest.pop_back();
  if (rest.find('/') != std::string::npos) return fail("paths are not supported");
  Upstream u;
  u.url = url;
  u.tls = tls;
  if (!rest.empty() && rest[0] == '[') {
    auto close = rest.find(']');
    if (close == std::string::npos) return fail("unbalanced [ in the host");
    u.host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    if (!rest.empty() && rest[0] != ':') return fail("junk after the IPv6 address");
    u.port = rest.empty() ? defaultPort : rest.substr(1);
  } else {
    auto colon = rest.rfind(':');
    u.host = rest.substr(0, colon);
    u.port = colon == std::string::npos ? defaultPort : rest.substr(colon + 1);
  }
  if (u.host.empty()) return fail("no host");
  if (u.port.empty() || u.port.size() > 5 ||
      u.port.find_first_not_of("0123456789") != std::string::npos || std::stoi(u.port) > 65535 ||
      std::stoi(u.port) == 0) {
    return fail("bad port \"" + u.port + "\"");
  }
  return u;
}

void refreshToken(UpstreamAccess& access) {
  if (access.tokenFile.empty()) return;
  access.token = httpd::readUpstreamToken(access.tokenFile);
}

}  // namespace walstream::client
