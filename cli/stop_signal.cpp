#include "cli/stop_signal.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

#include "core/error.h"

namespace walstream::cli {

namespace {

// "SIGTERM from pid 1234" for the log.
std::string signalText(int sig, int code, pid_t sender) {
  std::string name = sig == SIGINT ? "SIGINT" : sig == SIGTERM ? "SIGTERM" : "signal";
  if (code == SI_USER) name += " from pid " + std::to_string(sender);
  return name;
}

}  // namespace

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
  return signalText(sig, sig > 0 ? info.si_code : 0, info.si_pid);
}

StopSignalWaiter::StopSignalWaiter(const sigset_t& signals)
    : signals_(::signalfd(-1, &signals, SFD_CLOEXEC)), wakeup_(::eventfd(0, EFD_CLOEXEC)) {
  if (!signals_.valid()) throwErrno("signalfd", "the stop signals");
  if (!wakeup_.valid()) throwErrno("eventfd", "the stop wake-up");
}

void StopSignalWaiter::wake() {
  const uint64_t one = 1;
  // Can only fail when the counter would overflow, which a few wake-ups never make it.
  [[maybe_unused]] const ssize_t n = ::write(wakeup_.get(), &one, sizeof one);
}

std::optional<std::string> StopSignalWaiter::wait(const std::function<void()>& reload) {
  for (;;) {
    pollfd fds[2] = {{signals_.get(), POLLIN, 0}, {wakeup_.get(), POLLIN, 0}};
    if (::poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      // Cannot happen with two valid descriptors; stopping beats spinning or throwing past the
      // caller's threads.
      return std::string("a failed poll of the stop signals (") + std::strerror(errno) + ")";
    }
    if (fds[1].revents != 0) return std::nullopt;
    if (fds[0].revents == 0) continue;
    signalfd_siginfo info{};
    if (::read(signals_.get(), &info, sizeof info) != static_cast<ssize_t>(sizeof info)) continue;
    const int sig = static_cast<int>(info.ssi_signo);
    if (sig == SIGHUP) {
      reload();
      continue;
    }
    return signalText(sig, info.ssi_code, static_cast<pid_t>(info.ssi_pid));
  }
}

}  // namespace walstream::cli
