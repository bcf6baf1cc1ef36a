// StopSignalWaiter (cli/stop_signal.h): a stop signal or a wake-up from another thread ends the
// wait, and SIGHUP reloads without ending it.
#include <doctest/doctest.h>
#include <pthread.h>
#include <signal.h>

#include <optional>
#include <string>
#include <thread>

#include "cli/stop_signal.h"

using namespace walstream::cli;

namespace {

// Blocks the stop signals in this thread for the test's life, as the commands do; restores the
// mask after (a signal sent by the test is consumed by then).
class BlockedStopSignals {
 public:
  BlockedStopSignals() : signals_(stopSignals()) {
    pthread_sigmask(SIG_BLOCK, &signals_, &previous_);
  }
  ~BlockedStopSignals() { pthread_sigmask(SIG_SETMASK, &previous_, nullptr); }
  const sigset_t& signals() const { return signals_; }

 private:
  sigset_t signals_;
  sigset_t previous_;
};

}  // namespace

TEST_CASE("a wake-up from another thread ends the wait without a signal") {
  BlockedStopSignals blocked;
  StopSignalWaiter waiter(blocked.signals());
  int reloads = 0;
  std::thread waker([&waiter] { waiter.wake(); });
  CHECK(waiter.wait([&reloads] { ++reloads; }) == std::nullopt);
  waker.join();
  CHECK(reloads == 0);
}

TEST_CASE("SIGHUP reloads and the wait goes on; SIGTERM ends it") {
  BlockedStopSignals blocked;
  StopSignalWaiter waiter(blocked.signals());
  int reloads = 0;
  // Sent to this thread, where they stay pending (blocked) until the wait reads them.
  REQUIRE(pthread_kill(pthread_self(), SIGHUP) == 0);
  REQUIRE(pthread_kill(pthread_self(), SIGTERM) == 0);
  const std::optional<std::string> stop = waiter.wait([&reloads] { ++reloads; });
  REQUIRE(stop.has_value());
  CHECK(stop->starts_with("SIGTERM"));
  CHECK(reloads == 1);
}
