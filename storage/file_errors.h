// How a directory store's failed file-system calls become StorageErrors: the kind from the errno
// (directory_store.h lists the mapping), the message "<url>: cannot <verb> <key>: <cause>".
#pragma once

#include <string>
#include <string_view>

#include "core/error.h"
#include "storage/object_store.h"

namespace walstream::storage {

// What a missing file (ENOENT, or ENOTDIR: a part of the key's directory is a file) means.
enum class OnMissing {
  kNotFound,  // stat(), read(): there is no such object
  kFailure,   // writing: something removed a directory under the writer, worth a retry
};

StorageError::Kind kindOfErrno(int err, OnMissing onMissing);

// From a failure thrown by core's file functions or a FileSystem: the kind from its errno (a
// SystemError's; kTransient for an Error without one), its message as the cause.
StorageError fileFailure(std::string_view url, std::string_view verb, std::string_view key,
                         const Error& cause, OnMissing onMissing);

// From a system call that failed with `err`: the cause is "<call> <path>: <strerror(err)>".
StorageError fileFailure(std::string_view url, std::string_view verb, std::string_view key,
                         std::string_view call, std::string_view path, int err,
                         OnMissing onMissing);

}  // namespace walstream::storage
