#pragma once
// SIGINT and SIGTERM stop both commands; SIGHUP asks them to reload their TLS certificates and
// tokens (and never stops them). The three stay blocked in every thread but the one that waits
// for them, so capture, apply and worker threads (which inherit the mask) are never interrupted.

#include <signal.h>

#include <functional>
#include <string>

namespace walstream::cli {

// {SIGINT, SIGTERM, SIGHUP}.
sigset_t stopSignals();

// Blocks `signals` in the calling thread; call before starting any thread.
void blockStopSignals(const sigset_t& signals);

// Waits for SIGINT or SIGTERM (blocked beforehand, in `signals`) and describes it for the log,
// e.g. "SIGTERM from pid 1234". Each SIGHUP meanwhile calls `reload` on this thread and the wait
// goes on.
//
// sigwaitinfo, not sigwait: ThreadSanitizer's sigwait interceptor writes 8 bytes through its
// int* argument, which clobbered the neighbouring std::thread handle of the replica command.
std::string waitForStopSignal(const sigset_t& signals, const std::function<void()>& reload);

}  // namespace walstream::cli
