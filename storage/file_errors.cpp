#include "storage/file_errors.h"

#include <cerrno>
#include <cstring>

namespace walstream::storage {

namespace {

std::string messageOf(std::string_view url, std::string_view verb, std::string_view key,
                      std::string_view cause) {
  std::string msg(url);
  msg += ": cannot ";
  msg += verb;
  msg += ' ';
  msg += key.empty() ? std::string_view("the root") : key;
  msg += ": ";
  msg += cause;
  return msg;
}

}  // namespace

StorageError::Kind kindOfErrno(int err, OnMissing onMissing) {
  using Kind = StorageError::Kind;
  if (err == ENOENT || err == ENOTDIR) {
    if (onMissing == OnMissing::kNotFound) return Kind::kNotFound;
    if (err == ENOENT) return Kind::kTransient;
  }
  switch (err) {
    case ENOSPC:
    case EDQUOT:
    case EACCES:
    case EPERM:
    case EROFS:
    case ENAMETOOLONG:
    // A key that runs into an existing file or directory: the same call fails again.
    case ENOTDIR:
    case EISDIR:
    case EEXIST:
      return Kind::kPermanent;
    default:  // EIO, EINTR, EAGAIN, and whatever cannot be told apart from them
      return Kind::kTransient;
  }
}

StorageError fileFailure(std::string_view url, std::string_view verb, std::string_view key,
                         const Error& cause, OnMissing onMissing) {
  const auto* system = dynamic_cast<const SystemError*>(&cause);
  const StorageError::Kind kind =
      system ? kindOfErrno(system->code(), onMissing) : StorageError::Kind::kTransient;
  return StorageError(kind, messageOf(url, verb, key, cause.what()));
}

StorageError fileFailure(std::string_view url, std::string_view verb, std::string_view key,
                         std::string_view call, std::string_view path, int err,
                         OnMissing onMissing) {
  std::string cause(call);
  cause += ' ';
  cause += path;
  cause += ": ";
  cause += std::strerror(err);
  return StorageError(kindOfErrno(err, onMissing), messageOf(url, verb, key, cause));
}

}  // namespace walstream::storage
