// Counters capture keeps for /metrics and /status. All fields are atomics: capture writes them
// on its thread, the HTTP server reads them on its own.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>

namespace walstream {

// A cumulative histogram with fixed bucket bounds, Prometheus style.
class DurationHistogram {
 public:
  static constexpr std::array<double, 12> kBoundsSeconds = {
      0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 2.0};

  void observe(double seconds);
  // count of observations <= kBoundsSeconds[i] (cumulative), i < kBoundsSeconds.size()
  uint64_t bucketCount(size_t i) const { return buckets_[i].load(std::memory_order_relaxed); }
  uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  double sumSeconds() const { return static_cast<double>(sumMicros_.load()) / 1e6; }

 private:
  std::array<std::atomic<uint64_t>, kBoundsSeconds.size()> buckets_{};
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sumMicros_{0};
};

// How a capture checkpoint's hand-off waits (docs/capture.md §5). Both backfill with PASSIVE
// checkpoints; kWaitForReaders, past --max-checkpoint-pages, waits up to the busy timeout for
// the write lock and briefly, holding it, for readers to leave the frames left to backfill.
enum class CheckpointMode { kPassive = 0, kWaitForReaders = 1 };
inline constexpr std::array<const char*, 2> kCheckpointModeNames = {"passive", "wait_for_readers"};

struct CaptureMetrics {
  std::atomic<uint64_t> walBytesCopied{0};
  std::atomic<uint64_t> segmentsWritten{0};
  std::atomic<uint64_t> generationsStarted{0};
  std::atomic<uint64_t> walRestarts{0};  // proven restarts (index + 1)
  std::array<std::atomic<uint64_t>, kCheckpointModeNames.size()> checkpoints{};
  std::array<std::atomic<uint64_t>, kCheckpointModeNames.size()> checkpointMicros{};
  // Hand-offs put off because capture was too far behind to copy the rest under the lock.
  std::atomic<uint64_t> handOffsDeferred{0};
  std::atomic<uint64_t> walBytes{0};      // size of the application's -wal file at the last sync
  std::atomic<int64_t> snapshotsOpen{0};  // snapshot readers holding a read transaction
  DurationHistogram syncDuration;
};

}  // namespace walstream
