// A bounded retry for conditions a test can only ask about again and again (a server that is
// not listening yet, an answer that is not 200 yet), not wait on.
#pragma once

#include <chrono>
#include <functional>

namespace walstream::test {

// Calls `attempt` until it returns true, pausing `pause` after each false, for at most `timeout`
// (give it scaled(), time_scale.h); whether it did. An exception from `attempt` escapes: an
// attempt that can fail while the server starts catches its own errors.
bool pollUntil(const std::function<bool()>& attempt, std::chrono::milliseconds timeout,
               std::chrono::milliseconds pause = std::chrono::milliseconds(100));

}  // namespace walstream::test
