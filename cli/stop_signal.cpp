#include "cli/stop_signal.h"

#include <pthread.h>

#include <cerrno>

namespace walstream::cli {

sigset_t stopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  return set;
}

void blockStopSignals(const sigset_t& signals) {
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
}

std::string waitForStopSignal(const sigset_t& signals, const std::function<void()>& reload) {
  siginfo_t info{};
  int sig = -1;
  for (;;) {
    sig = sigwaitinfo(&signals, &info);
    if (sig < 0 && errno == EINTR) continue;
    if (sig != SIGHUP) break;
    reload();
  }
  std::string name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal";
  if (sig > 0 && info.si_code == SI_USER) name += " from pid " + std::to_string(info.si_pid);
  return name;
}

}  // namespace walstream::cli
