#include "proto/http/server_access.h"

#include "core/error.h"
#include "core/log.h"

namespace walstream::httpd {

ServerAccess::ServerAccess(const ServerAccessFiles& files) {
  if (files.certFile.empty() != files.keyFile.empty()) {
    throw Error("--tls-cert and --tls-key go together");
  }
  if (!files.certFile.empty()) {
    tls_ = std::make_unique<TlsServerContext>(files.certFile, files.keyFile);
  }
  if (!files.tokenFile.empty()) tokens_ = std::make_unique<BearerTokens>(files.tokenFile);
}

bool ServerAccess::admits(std::string_view path, std::string_view authorization) const {
  if (!tokens_ || path == "/healthz") return true;
  return tokens_->authorizes(authorization);
}

void reloadServerAccess(ServerAccess* access) {
  if (access == nullptr) {
    log::info("SIGHUP: nothing to reload (no --tls-cert, no --token-file)");
    return;
  }
  access->reload();
}

void ServerAccess::reload() {
  if (tls_) {
    try {
      tls_->reload();
      log::info("SIGHUP: reloaded the TLS certificate " + tls_->certFile() +
                " for new connections");
    } catch (const std::exception& e) {
      log::error(std::string("SIGHUP: keeping the current TLS certificate: ") + e.what());
    }
  }
  if (tokens_) {
    try {
      tokens_->reload();
      log::info("SIGHUP: reloaded " + std::to_string(tokens_->count()) + " token(s) from " +
                tokens_->file());
    } catch (const std::exception& e) {
      log::error(std::string("SIGHUP: keeping the current tokens: ") + e.what());
    }
  }
}

}  // namespace walstream::httpd
