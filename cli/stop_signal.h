#pragma once
// SIGINT and SIGTERM stop both commands. They stay blocked in every thread but the one that waits
// for them, so capture, apply and worker threads (which inherit the mask) are never interrupted.

#include <signal.h>

#include <string>

namespace walstream::cli {

// {SIGINT, SIGTERM}.
sigset_t stopSignals();

// Blocks `signals` in the calling thread; call before starting any thread.
void blockStopSignals(const sigset_t& signals);

// Waits for one of `signals` (blocked beforehand) and describes it for the log, e.g.
// "SIGTERM from pid 1234".
//
// sigwaitinfo, not sigwait: ThreadSanitizer's sigwait interceptor writes 8 bytes through its
// int* argument, which clobbered the neighbouring std::thread handle of the replica command.
std::string waitForStopSignal(const sigset_t& signals);

}  // namespace walstream::cli
