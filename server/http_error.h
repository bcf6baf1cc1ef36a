// An HTTP error answer: status code and message, sent as JSON {"error": "..."}.
#pragma once

#include <stdexcept>
#include <string>

namespace walstream::server {

class HttpError : public std::runtime_error {
 public:
  HttpError(int status, const std::string& message, bool retryable = false)
      : std::runtime_error(message), status_(status), retryable_(retryable) {}

  int status() const { return status_; }
  // The condition is transient: the answer carries "Retry-After: 1".
  bool retryable() const { return retryable_; }

 private:
  int status_;
  bool retryable_;
};

}  // namespace walstream::server
