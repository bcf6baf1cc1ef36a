// Who may reach a server and how: TLS (--tls-cert, --tls-key) and bearer tokens (--token-file),
// the same for the primary and the replica's --http. Both are optional; reload() (SIGHUP) loads
// the files of both again, each keeping what it had when its files are now wrong.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "proto/http/bearer_tokens.h"
#include "proto/http/tls_server_context.h"

namespace walstream::httpd {

struct ServerAccessFiles {
  std::string certFile;  // "" with keyFile "": plain HTTP
  std::string keyFile;
  std::string tokenFile;  // "": no authentication
};

class ServerAccess {
 public:
  // Loads what is given; throws walstream::Error naming the file and the cause.
  explicit ServerAccess(const ServerAccessFiles& files);

  const TlsServerContext* tls() const { return tls_.get(); }
  bool requiresToken() const { return tokens_ != nullptr; }
  // Whether a request for `path` with this Authorization value ("" when absent) is served:
  // /healthz always (load balancers probe it without credentials), anything else only with a
  // valid token when tokens are required.
  bool admits(std::string_view path, std::string_view authorization) const;
  // "https" or "http", for the listening line.
  const char* scheme() const { return tls_ ? "https" : "http"; }
  // Loads the files again and logs, for each, that it was reloaded or why it was kept.
  void reload();

 private:
  std::unique_ptr<TlsServerContext> tls_;
  std::unique_ptr<BearerTokens> tokens_;
};

// SIGHUP: reloads `access`, or logs that there is nothing to reload when it is null.
void reloadServerAccess(ServerAccess* access);

}  // namespace walstream::httpd
