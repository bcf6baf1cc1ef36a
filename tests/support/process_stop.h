// Stopping a walstream process the way an operator does, as a test expectation.
#pragma once

#include "tests/support/process.h"

namespace walstream::test {

// Sends SIGTERM and waits (bounded, 20 s): the process must exit, and with code 0 (a clean stop).
// Fails the running test otherwise.
void stopCleanly(Process& process);

}  // namespace walstream::test
