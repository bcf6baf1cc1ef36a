// The primary a replica follows: `--upstream http://host:port`.
#pragma once

#include <string>

namespace walstream::client {

struct Upstream {
  std::string host;  // name or address; IPv6 without brackets
  std::string port;  // "80" when the URL has none
  std::string url;   // as given, for logs and /status
};

// Accepts http://HOST[:PORT][/]; throws walstream::Error naming the URL otherwise (https and
// paths are not supported).
Upstream parseUpstream(const std::string& url);

}  // namespace walstream::client
