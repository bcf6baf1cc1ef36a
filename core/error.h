// Error handling in core: failures are thrown as walstream::Error, whose message always names
// what failed, the file and position involved when there is one, and the cause. Callers above
// core (server, client) catch at their own boundaries and turn errors into log lines, HTTP
// statuses or retries.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace walstream {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A failed system call: the Error keeps its errno, for callers that must tell a missing file or
// a full disk from a transient failure (storage/directory_store.cpp classifies them so).
class SystemError : public Error {
 public:
  SystemError(const std::string& message, int code) : Error(message), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// Throws SystemError("<what> <path>: <strerror(err)>", err).
[[noreturn]] void throwSystemError(std::string_view what, std::string_view path, int err);

// Same, with the current errno.
[[noreturn]] void throwErrno(std::string_view what, std::string_view path);

}  // namespace walstream
