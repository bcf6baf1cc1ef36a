// Short forms of object-store calls (storage/object_store.h) for the tests of storage. Header-only,
// so that the test support library itself does not link storage.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "storage/object_store.h"

namespace walstream::test {

// What `call` threw: the StorageError, or nothing when it succeeded.
template <class Call>
std::optional<storage::StorageError> storageFailure(Call&& call) {
  try {
    call();
  } catch (const storage::StorageError& e) {
    return e;
  }
  return std::nullopt;
}

// Writes and commits one object.
inline void putObject(storage::ObjectStore& store, const std::string& key, std::string_view bytes) {
  auto writer = store.create(key);
  writer->write(bytes);
  writer->commit();
}

}  // namespace walstream::test
