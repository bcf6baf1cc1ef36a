// A replica's id: LOCAL_DB-walstream/id, one line of 16 lowercase hex digits, random, made the
// first time it is needed and kept for LOCAL_DB's life. The replica names itself with it on its
// stream requests (Walstream-Via), and a replica serving downstream replicas names itself with it
// in its responses (Walstream-Chain), so that a cycle of replicas following each other is
// refused (docs/cascading.md §5, docs/wire-format.md §2).
#pragma once

#include <string>

namespace walstream::client {

// The id recorded beside LOCAL_DB, or a new one recorded durably (the directory is created).
// A malformed file is replaced. Throws Error when it cannot be written.
std::string loadOrCreateReplicaId(const std::string& localPath);

}  // namespace walstream::client
