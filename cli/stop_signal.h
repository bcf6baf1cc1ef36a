#pragma once
// SIGINT and SIGTERM stop both commands; SIGHUP asks them to reload their TLS certificates and
// tokens (and never stops them). The three stay blocked in every thread but the one that waits
// for them, so capture, apply and worker threads (which inherit the mask) are never interrupted.

#include <signal.h>

#include <functional>
#include <optional>
#include <string>

#include "core/file_util.h"

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

// waitForStopSignal that another thread can also end: the replica's, which POST /promote ends
// too. The signals (blocked beforehand, in `signals`) are read through a signalfd and the
// wake-up through an eventfd, both polled at once, so neither can be missed in between.
class StopSignalWaiter {
 public:
  explicit StopSignalWaiter(const sigset_t& signals);  // throws Error

  // From any thread, any number of times: wait() returns, now or when it is next called.
  void wake();
  // As waitForStopSignal, or nullopt once wake() was called. Never throws.
  std::optional<std::string> wait(const std::function<void()>& reload);

 private:
  UniqueFd signals_;
  UniqueFd wakeup_;
};

}  // namespace walstream::cli
