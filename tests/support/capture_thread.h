// A Database capturing on a thread of its own, for unit tests of capture (tests/unit/capture).
#pragma once

#include <string>
#include <thread>

#include "core/pos.h"
#include "server/capture/database.h"

namespace walstream::test {

// Thresholds small enough that a test's few hundred transactions see checkpoints and WAL
// restarts, and a shadow retention that keeps whole generations for replay.
CaptureOptions smallCaptureThresholds();

// Runs capture (Database::run) on a thread for the lifetime of the object.
struct CaptureThread {
  Database db;
  std::jthread thread;
  CaptureThread(const std::string& path, CaptureOptions o);
  // Waits (bounded) for a sync that started after this call and succeeded; a doctest failure
  // naming capture's health reason when none does. Capture may still be opening or retrying,
  // in which case the barrier reports "not running" at once and the wait goes on.
  Pos caughtUp();
};

}  // namespace walstream::test
