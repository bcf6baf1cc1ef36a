// The primary a replica follows: `--upstream http://host:port` or `https://host:port`, and
// what the replica needs to reach it beyond the address (UpstreamAccess).
#pragma once

#include <memory>
#include <string>

namespace walstream::httpd {
class TlsClientContext;
}

namespace walstream::client {

struct Upstream {
  std::string host;  // name or address; IPv6 without brackets
  std::string port;  // "80" (http) or "443" (https) when the URL has none
  std::string url;   // as given, for logs and /status
  bool tls = false;  // https://
};

// Accepts http://HOST[:PORT][/] and https://HOST[:PORT][/]; throws walstream::Error naming the
// URL otherwise (paths are not supported).
Upstream parseUpstream(const std::string& url);

// How each request reaches the upstream: over TLS (for https://, checking the server as `tls`
// says) and with a bearer token. The token is sent, never logged.
struct UpstreamAccess {
  std::shared_ptr<const httpd::TlsClientContext> tls;  // null: plain HTTP
  std::string token;                                   // "": no Authorization header
  // --upstream-token-file, or "": the replica reads it again before each connection, so that a
  // rotated token is sent from the next connection on without a restart (refreshToken).
  std::string tokenFile;
  // The replica's id (client/replica_id.h), sent as Walstream-Via; "": none.
  std::string via;
};

// Reads `access.tokenFile` again (when set) into `access.token`. Throws walstream::Error naming
// the file when it cannot be read or holds no token, leaving `access.token` as it was: a file
// caught in the middle of a non-atomic rewrite must not cost the replica its connection.
void refreshToken(UpstreamAccess& access);

}  // namespace walstream::client
