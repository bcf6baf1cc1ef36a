#include "cli/access_flags.h"

#include "core/error.h"
#include "proto/http/server_access.h"

namespace walstream::cli {

void defineServerAccessFlags(Flags& flags) {
  flags.define("tls-cert", "FILE", "",
               "with --http: serve HTTPS with this PEM certificate chain (needs --tls-key); "
               "reloaded on SIGHUP for new connections");
  flags.define("tls-key", "FILE", "", "with --http: the PEM private key of --tls-cert");
  flags.define("token-file", "FILE", "",
               "with --http: answer only requests with Authorization: Bearer TOKEN, TOKEN one "
               "of the lines of FILE (blank lines and # comments ignored; /healthz stays open); "
               "reloaded on SIGHUP");
}

std::shared_ptr<httpd::ServerAccess> serverAccessFromFlags(const Flags& flags) {
  const bool any = flags.given("tls-cert") || flags.given("tls-key") || flags.given("token-file");
  if (!any) return nullptr;
  if (!flags.given("http")) throw UsageError("--tls-cert, --tls-key and --token-file need --http");
  if (flags.given("tls-cert") != flags.given("tls-key")) {
    throw UsageError("--tls-cert and --tls-key go together");
  }
  try {
    return std::make_shared<httpd::ServerAccess>(httpd::ServerAccessFiles{
        flags.str("tls-cert"), flags.str("tls-key"), flags.str("token-file")});
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
}

}  // namespace walstream::cli
