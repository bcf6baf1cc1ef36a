#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "proto/http/waiter_registry.h"

using namespace walstream::httpd;
namespace net = boost::asio;
using namespace std::chrono_literals;

namespace {

// The registry's io_context on a thread of its own, as the servers run theirs.
struct LoopThread {
  net::io_context io;
  net::executor_work_guard<net::io_context::executor_type> work = net::make_work_guard(io);
  std::thread thread{[this] { io.run(); }};
  ~LoopThread() {
    work.reset();
    io.stop();
    thread.join();
  }
};

// What a publisher publishes: a number under a mutex, as the capture and the applier do.
struct Published {
  std::mutex mu;
  int value = 0;
  int read() {
    std::lock_guard lock(mu);
    return value;
  }
  void set(int v) {
    std::lock_guard lock(mu);
    value = v;
  }
};

// Ends of the waiters, recorded from the strand.
struct Ends {
  std::mutex mu;
  std::vector<WaiterRegistry::End> ends;
  void add(WaiterRegistry::End e) {
    std::lock_guard lock(mu);
    ends.push_back(e);
  }
  size_t count(WaiterRegistry::End e) {
    std::lock_guard lock(mu);
    return static_cast<size_t>(std::count(ends.begin(), ends.end(), e));
  }
  size_t size() {
    std::lock_guard lock(mu);
    return ends.size();
  }
  // Polls until `n` waiters ended, for at most 10 s.
  bool awaitSize(size_t n) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (size() < n && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(1ms);
    }
    return size() >= n;
  }
};

}  // namespace

TEST_CASE("a waiter ends ready once a notify follows the publish it waits for") {
  LoopThread loop;
  WaiterRegistry registry(loop.io.get_executor(), 8);
  Published published;
  Ends ends;
  REQUIRE(registry.wait([&] { return published.read() >= 3; }, 10s,
                        [&](WaiterRegistry::End e) { ends.add(e); }));
  published.set(2);
  registry.notify();
  std::this_thread::sleep_for(20ms);
  CHECK(ends.size() == 0);  // 2 is not what it waits for
  const auto published3 = std::chrono::steady_clock::now();
  published.set(3);
  registry.notify();
  REQUIRE(ends.awaitSize(1));
  CHECK(ends.count(WaiterRegistry::End::kReady) == 1);
  CHECK(std::chrono::steady_clock::now() - published3 < 1s);
  CHECK(registry.waiting() == 0);
}

TEST_CASE("a waiter whose condition already holds ends ready without any notify") {
  LoopThread loop;
  WaiterRegistry registry(loop.io.get_executor(), 8);
  Ends ends;
  REQUIRE(registry.wait([] { return true; }, 10s, [&](WaiterRegistry::End e) { ends.add(e); }));
  REQUIRE(ends.awaitSize(1));
  CHECK(ends.count(WaiterRegistry::End::kReady) == 1);
}

TEST_CASE("a waiter times out when nothing it waits for is published") {
  LoopThread loop;
  WaiterRegistry registry(loop.io.get_executor(), 8);
  Ends ends;
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(registry.wait([] { return false; }, 50ms, [&](WaiterRegistry::End e) { ends.add(e); }));
  REQUIRE(ends.awaitSize(1));
  CHECK(ends.count(WaiterRegistry::End::kTimedOut) == 1);
  CHECK(std::chrono::steady_clock::now() - start >= 50ms);
  CHECK(registry.waiting() == 0);
}

TEST_CASE("beyond the cap wait() refuses at once, and a slot frees when a waiter ends") {
  LoopThread loop;
  WaiterRegistry registry(loop.io.get_executor(), 3);
  Published published;
  Ends ends;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(registry.wait([&] { return published.read() >= 1; }, 10s,
                          [&](WaiterRegistry::End e) { ends.add(e); }));
  }
  CHECK_FALSE(registry.wait([] { return true; }, 10s, [&](WaiterRegistry::End e) { ends.add(e); }));
  CHECK(registry.refused() == 1);
  CHECK(registry.waiting() == 3);
  published.set(1);
  registry.notify();
  REQUIRE(ends.awaitSize(3));
  CHECK(ends.count(WaiterRegistry::End::kReady) == 3);
  CHECK(registry.waiting() == 0);
  CHECK(registry.wait([] { return true; }, 10s, [&](WaiterRegistry::End e) { ends.add(e); }));
  REQUIRE(ends.awaitSize(4));
}

TEST_CASE("close ends every waiter once and refuses new ones") {
  LoopThread loop;
  WaiterRegistry registry(loop.io.get_executor(), 8);
  Ends ends;
  for (int i = 0; i < 4; ++i) {
    REQUIRE(registry.wait([] { return false; }, 10s, [&](WaiterRegistry::End e) { ends.add(e); }));
  }
  registry.close();
  REQUIRE(ends.awaitSize(4));
  CHECK(ends.count(WaiterRegistry::End::kClosed) == 4);
  CHECK_FALSE(registry.wait([] { return true; }, 10s, [&](WaiterRegistry::End e) { ends.add(e); }));
  std::this_thread::sleep_for(20ms);
  CHECK(ends.size() == 4);  // each ended once: no timer fires after close
}

TEST_CASE("no publish is missed by waiters registered while a publisher publishes and notifies") {
  // Each round: a waiter for value >= N registered from this thread while another thread
  // publishes N and notifies. Whatever the interleaving, every waiter must end ready, long
  // before its timeout.
  LoopThread loop;
  WaiterRegistry registry(loop.io.get_executor(), 1024);
  Published published;
  Ends ends;
  constexpr int kRounds = 500;
  for (int n = 1; n <= kRounds; ++n) {
    std::thread publisher([&] {
      published.set(n);
      registry.notify();
    });
    REQUIRE(registry.wait([&published, n] { return published.read() >= n; }, 20s,
                          [&](WaiterRegistry::End e) { ends.add(e); }));
    publisher.join();
  }
  REQUIRE(ends.awaitSize(kRounds));
  CHECK(ends.count(WaiterRegistry::End::kReady) == kRounds);
}
