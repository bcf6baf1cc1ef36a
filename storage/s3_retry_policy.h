// How an S3 store retries a request that failed transiently (StorageError kTransient: a
// timeout, a refused or reset connection, a 5xx or 429 reply, a cut or garbled reply): capped
// exponential backoff with full jitter (core/backoff.h), for at most `maxAttempts` tries and
// `maxTotal` time from the first. Anything else is thrown at once. So a dead server costs a
// caller a bounded time before kTransient reaches it, and the caller's own retries (the backup
// writer's) take over from there.
#pragma once

#include <chrono>
#include <functional>

namespace walstream::storage {

struct S3RetryPolicy {
  int maxAttempts = 6;
  std::chrono::milliseconds maxTotal{30000};  // no new try starts after this
  std::chrono::milliseconds baseDelay{100};
  std::chrono::milliseconds maxDelay{5000};
};

// Calls `attempt` until it returns, throws something other than a transient StorageError, or
// the policy gives up; then the last failure is rethrown with the count of tries appended.
void withS3Retries(const S3RetryPolicy& policy, const std::function<void()>& attempt);

}  // namespace walstream::storage
