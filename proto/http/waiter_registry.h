// Requests that wait for something another thread publishes: the primary's /sync waits for
// capture to publish a copy round, the replica's /wait for the applier to make a position
// visible (docs/read-your-writes.md). A waiter costs no thread: it is a check, a timer and a
// completion on one strand of the server's io_context.
//
// Contract:
//  - notify() never blocks and may be called from any thread, by the code that publishes, after
//    it published (the new state is visible to a check that runs afterwards). It posts one
//    re-check of every waiter to the strand; notifies that come while one is pending are folded
//    into it, and nothing is posted while nobody waits.
//  - wait() checks the new waiter once on the strand after registering it, so a publish that
//    came before the registration is not missed: either the first check sees it, or the
//    publisher's notify() sees the waiter counted (the count is raised before the first check
//    and read after the publisher's own state change).
//  - At most `maxWaiters` wait at once, counted from the moment wait() accepts them: beyond it
//    wait() refuses at once (the caller answers 503), so a flood of requests costs no memory
//    beyond the connections that carry them.
//  - Each waiter ends exactly once, on the strand: kReady when its check returned true, kTimedOut
//    when its timeout passed first, kClosed when close() ran first. The check and the completion
//    run on the strand and must not block (no disk, no SQLite; a short mutex is fine).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>

namespace walstream::httpd {

class WaiterRegistry {
 public:
  enum class End { kReady, kTimedOut, kClosed };
  // True once the waiter's wait is over; the caller keeps whatever verdict it found.
  using Check = std::function<bool()>;
  using Done = std::function<void(End)>;

  WaiterRegistry(boost::asio::any_io_executor executor, size_t maxWaiters);
  ~WaiterRegistry();
  WaiterRegistry(const WaiterRegistry&) = delete;
  WaiterRegistry& operator=(const WaiterRegistry&) = delete;

  // Any thread. False, with nothing registered or called, when maxWaiters wait already.
  bool wait(Check check, std::chrono::milliseconds timeout, Done done);
  // Any thread; never blocks.
  void notify();
  // Ends every waiter with kClosed and refuses new ones. Any thread.
  void close();

  size_t waiting() const;
  size_t maxWaiters() const;
  uint64_t refused() const;  // wait() calls refused for the cap, since the start

 private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace walstream::httpd
