#include "storage/s3_retry_policy.h"

#include <thread>

#include "core/backoff.h"
#include "storage/object_store.h"

namespace walstream::storage {

void withS3Retries(const S3RetryPolicy& policy, const std::function<void()>& attempt) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + policy.maxTotal;
  Backoff backoff(policy.baseDelay, policy.maxDelay);
  for (int tries = 1;; ++tries) {
    try {
      attempt();
      return;
    } catch (const StorageError& e) {
      if (e.kind() != StorageError::Kind::kTransient) throw;
      const auto delay = backoff.next();
      if (tries >= policy.maxAttempts || Clock::now() + delay >= deadline) {
        throw StorageError(e.kind(), std::string(e.what()) + " (gave up after " +
                                         std::to_string(tries) + " tries)");
      }
      std::this_thread::sleep_for(delay);
    }
  }
}

}  // namespace walstream::storage
