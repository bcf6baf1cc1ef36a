#include "proto/http/waiter_registry.h"

#include <atomic>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <map>
#include <vector>

namespace walstream::httpd {

namespace asio = boost::asio;

struct WaiterRegistry::State : std::enable_shared_from_this<State> {
  State(asio::any_io_executor executor, size_t maxWaiters)
      : strand(asio::make_strand(std::move(executor))), max(maxWaiters) {}

  struct Waiter {
    Check check;
    Done done;
    std::unique_ptr<asio::steady_timer> timer;
  };

  asio::strand<asio::any_io_executor> strand;
  const size_t max;
  // Waiters accepted and not ended: raised by wait() before the waiter's first check.
  std::atomic<size_t> count{0};
  std::atomic<bool> recheckPosted{false};
  std::atomic<bool> closed{false};
  std::atomic<uint64_t> refusedCount{0};
  // On the strand only.
  std::map<uint64_t, Waiter> waiters;
  uint64_t nextId = 0;

  bool reserve() {
    size_t now = count.load();
    do {
      if (now >= max) return false;
    } while (!count.compare_exchange_weak(now, now + 1));
    return true;
  }

  // On the strand. A completion may register a new waiter (wait() posts, never runs inline).
  void finish(uint64_t id, End end) {
    auto it = waiters.find(id);
    if (it == waiters.end()) return;
    Waiter w = std::move(it->second);
    waiters.erase(it);
    w.timer->cancel();
    count.fetch_sub(1);
    w.done(end);
  }

  void add(Waiter w, std::chrono::milliseconds timeout) {
    if (closed.load()) {
      count.fetch_sub(1);
      w.done(End::kClosed);
      return;
    }
    const uint64_t id = nextId++;
    w.timer->expires_after(timeout);
    w.timer->async_wait([self = shared_from_this(), id](const boost::system::error_code& ec) {
      if (!ec) self->finish(id, End::kTimedOut);
    });
    const bool ready = w.check();
    waiters.emplace(id, std::move(w));
    if (ready) finish(id, End::kReady);
  }

  void recheck() {
    recheckPosted.store(false);
    std::vector<uint64_t> ready;
    for (auto& [id, w] : waiters) {
      if (w.check()) ready.push_back(id);
    }
    for (uint64_t id : ready) finish(id, End::kReady);
  }

  void closeAll() {
    std::vector<uint64_t> ids;
    for (const auto& entry : waiters) ids.push_back(entry.first);
    for (uint64_t id : ids) finish(id, End::kClosed);
  }
};

WaiterRegistry::WaiterRegistry(asio::any_io_executor executor, size_t maxWaiters)
    : state_(std::make_shared<State>(std::move(executor), maxWaiters)) {}

WaiterRegistry::~WaiterRegistry() = default;

bool WaiterRegistry::wait(Check check, std::chrono::milliseconds timeout, Done done) {
  if (state_->closed.load() || !state_->reserve()) {
    state_->refusedCount.fetch_add(1);
    return false;
  }
  State::Waiter w{std::move(check), std::move(done),
                  std::make_unique<asio::steady_timer>(state_->strand)};
  asio::post(state_->strand, [s = state_, w = std::make_shared<State::Waiter>(std::move(w)),
                              timeout]() mutable { s->add(std::move(*w), timeout); });
  return true;
}

void WaiterRegistry::notify() {
  if (state_->count.load() == 0) return;
  if (state_->recheckPosted.exchange(true)) return;
  asio::post(state_->strand, [s = state_] { s->recheck(); });
}

void WaiterRegistry::close() {
  state_->closed.store(true);
  asio::post(state_->strand, [s = state_] { s->closeAll(); });
}

size_t WaiterRegistry::waiting() const {
  return state_->count.load();
}

size_t WaiterRegistry::maxWaiters() const {
  return state_->max;
}

uint64_t WaiterRegistry::refused() const {
  return state_->refusedCount.load();
}

}  // namespace walstream::httpd
