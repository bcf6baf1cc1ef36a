#include "tests/support/capture_thread.h"

#include <doctest/doctest.h>

#include <chrono>

#include "tests/support/time_scale.h"

namespace walstream::test {

using namespace std::chrono_literals;

CaptureOptions smallCaptureThresholds() {
  CaptureOptions o;
  o.minCheckpointPages = 40;
  o.maxCheckpointPages = 400;
  o.pollInterval = 50ms;
  o.busyTimeout = 500ms;
  o.shadowRetention = 1'000'000;  // tests replay whole generations from their first index
  return o;
}

CaptureThread::CaptureThread(const std::string& path, CaptureOptions o)
    : db(path, std::move(o)), thread([this](std::stop_token st) { db.run(st); }) {}

Pos CaptureThread::caughtUp() {
  const auto deadline = std::chrono::steady_clock::now() + scaled(30s);
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto p = db.syncBarrier(2s)) return *p;
    std::this_thread::sleep_for(10ms);
  }
  FAIL("capture never completed a sync: " << db.healthReason());
  return {};
}

}  // namespace walstream::test
