// The TLS and token flags of both servers (--tls-cert, --tls-key, --token-file), defined and
// read the same way for the primary and for the replica's --http.
#pragma once

#include <memory>

#include "cli/flags.h"

namespace walstream::httpd {
class ServerAccess;
}

namespace walstream::cli {

void defineServerAccessFlags(Flags& flags);

// The access the flags ask for, with every file loaded; null when none of the flags is given.
// Throws UsageError naming the flag, the file and the cause (a missing or empty token file, a
// certificate that cannot be read, a key that does not match it, --tls-cert without --tls-key,
// any of them without --http).
std::shared_ptr<httpd::ServerAccess> serverAccessFromFlags(const Flags& flags);

}  // namespace walstream::cli
