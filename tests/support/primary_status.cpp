#include "tests/support/primary_status.h"
#include "tests/support/time_scale.h"

#include <stdexcept>
#include <thread>

#include "tests/support/http_client.h"
#include "tests/support/poll_until.h"

namespace walstream::test {

proto::PrimaryStatusJson fetchStatus(uint16_t port) {
  HttpResponse r = httpRequest(port, "/status");
  if (r.status != 200) throw std::runtime_error("/status answered " + std::to_string(r.status));
  return proto::decodeStatusJson(r.body);
}

proto::PrimaryStatusJson waitForCapture(uint16_t port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
  for (;;) {
    proto::PrimaryStatusJson s = fetchStatus(port);
    bool ready = !s.databases.empty();
    for (const auto& d : s.databases) ready = ready && d.healthy && !d.pos.empty();
    if (ready) return s;
    if (std::chrono::steady_clock::now() >= deadline) {
      throw std::runtime_error("capture did not become ready: " + proto::encodeStatusJson(s));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

Pos primaryPosition(uint16_t port, const std::string& name) {
  for (const auto& d : fetchStatus(port).databases) {
    if (d.name == name) return parsePos(d.pos);
  }
  throw std::runtime_error("/status does not list " + name);
}

Pos waitForCaptureIdle(uint16_t port, const std::string& name) {
  using namespace std::chrono_literals;
  Pos last = primaryPosition(port, name);
  auto stableSince = std::chrono::steady_clock::now();
  for (const auto until = stableSince + scaled(20s); std::chrono::steady_clock::now() < until;) {
    std::this_thread::sleep_for(50ms);
    const Pos now = primaryPosition(port, name);
    if (now != last) {
      last = now;
      stableSince = std::chrono::steady_clock::now();
    } else if (std::chrono::steady_clock::now() - stableSince >= 300ms) {
      return last;
    }
  }
  throw std::runtime_error("capture of " + name + " did not settle: it is still moving at " +
                           last.str());
}

size_t streamsListed(uint16_t port) {
  size_t n = 0;
  for (const auto& d : fetchStatus(port).databases) n += d.streams.size();
  return n;
}

bool waitForStreams(uint16_t port, size_t want, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (streamsListed(port) != want) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

bool waitUntilServing(uint16_t port, std::chrono::milliseconds timeout) {
  return pollUntil(
      [port] {
        try {
          return httpRequest(port, "/healthz", std::chrono::seconds(2)).status == 200;
        } catch (const std::exception&) {
          return false;  // refused or cut: the next attempt comes after the pause
        }
      },
      timeout);
}

}  // namespace walstream::test
