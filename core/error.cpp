#include "core/error.h"

#include <cerrno>
#include <cstring>

namespace walstream {

void throwSystemError(std::string_view what, std::string_view path, int err) {
  std::string msg(what);
  if (!path.empty()) {
    msg += ' ';
    msg += path;
  }
  msg += ": ";
  msg += std::strerror(err);
  throw SystemError(msg, err);
}

void throwErrno(std::string_view what, std::string_view path) {
  throwSystemError(what, path, errno);
}

}  // namespace walstream
