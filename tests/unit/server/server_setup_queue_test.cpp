// SetupQueue (server/setup_queue.h): at most N setups run, M wait, the rest are refused; a
// waiting setup whose client has gone never runs, and makes room for a new one.
#include <doctest/doctest.h>

#include <optional>
#include <vector>

#include "server/setup_queue.h"

using walstream::server::SetupQueue;

namespace {

// A setup that records its slot when started, so the test decides when it ends. The queue is
// closed before the slots go, as the server's is: a slot released into an open queue would
// start a waiting setup while this fixture is being destroyed.
struct Setups {
  std::vector<std::optional<SetupQueue::Slot>> slots =
      std::vector<std::optional<SetupQueue::Slot>>(8);
  std::vector<bool> wanted = std::vector<bool>(8, true);

  bool submit(SetupQueue& q, size_t i) {
    return q.submit([this, i] { return static_cast<bool>(wanted[i]); },
                    [this, i](SetupQueue::Slot s) { slots[i].emplace(std::move(s)); });
  }
  bool started(size_t i) const { return slots[i].has_value(); }
};

}  // namespace

TEST_CASE("setups beyond the running bound wait, beyond the waiting bound are refused") {
  SetupQueue q(2, 2);
  Setups s;
  CHECK(s.submit(q, 0));
  CHECK(s.submit(q, 1));
  CHECK(s.started(0));
  CHECK(s.started(1));
  CHECK(s.submit(q, 2));
  CHECK(s.submit(q, 3));
  CHECK_FALSE(s.started(2));
  CHECK_FALSE(s.submit(q, 4));  // 2 running, 2 waiting: refused
  CHECK(q.running() == 2);
  CHECK(q.waiting() == 2);

  s.slots[0]->release();  // the next waiting one starts, in order
  CHECK(s.started(2));
  CHECK_FALSE(s.started(3));
  CHECK(q.running() == 2);
  CHECK(q.waiting() == 1);
  q.close();  // the slots still held are released at the end, and must start nothing
}

TEST_CASE("a waiting setup whose client has gone never runs and makes room") {
  SetupQueue q(1, 2);
  Setups s;
  CHECK(s.submit(q, 0));
  CHECK(s.submit(q, 1));
  CHECK(s.submit(q, 2));
  s.wanted[1] = false;    // its client went away while it waited
  CHECK(s.submit(q, 3));  // the queue was full; the gone one is dropped for it
  CHECK(q.waiting() == 2);
  s.slots[0].reset();  // releasing skips nothing wanted: 2 starts
  CHECK_FALSE(s.started(1));
  CHECK(s.started(2));
  s.wanted[3] = false;
  s.slots[2].reset();  // 3 is gone too: nothing starts
  CHECK_FALSE(s.started(3));
  CHECK(q.running() == 0);
  CHECK(q.waiting() == 0);
}

TEST_CASE("a closed queue refuses setups and starts no waiting one") {
  SetupQueue q(1, 4);
  Setups s;
  CHECK(s.submit(q, 0));
  CHECK(s.submit(q, 1));
  q.close();
  CHECK_FALSE(s.submit(q, 2));
  s.slots[0].reset();
  CHECK_FALSE(s.started(1));
  CHECK(q.running() == 0);
}
