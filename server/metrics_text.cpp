#include "server/metrics_text.h"

#include <algorithm>
#include <cstdio>
#include <functional>

#include "proto/http/prometheus_text.h"

namespace walstream::server {

namespace {

std::string formatDouble(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}

class Writer {
 public:
  explicit Writer(const std::vector<DatabaseMetricsSample>& dbs) : dbs_(dbs) {}

  // One family with one sample per database.
  void family(const char* name, const char* type, const char* help,
              const std::function<std::string(const DatabaseMetricsSample&)>& value) {
    text_.family(name, type, help);
    for (const auto& d : dbs_) text_.sample(name, {{"db", d.name}}, value(d));
  }

  // One family with one sample per captured database (DatabaseMetricsSample::capture); none
  // when no database is captured here.
  void captureFamily(const char* name, const char* type, const char* help,
                     const std::function<std::string(const CaptureMetrics&)>& value) {
    if (!anyCaptured()) return;
    text_.family(name, type, help);
    for (const auto& d : dbs_) {
      if (d.capture) text_.sample(name, {{"db", d.name}}, value(*d.capture));
    }
  }

  // One family with one sample per captured database and checkpoint mode.
  void perMode(const char* name, const char* help,
               const std::function<std::string(const CaptureMetrics&, size_t)>& value) {
    if (!anyCaptured()) return;
    text_.family(name, "counter", help);
    for (const auto& d : dbs_) {
      if (!d.capture) continue;
      for (size_t m = 0; m < kCheckpointModeNames.size(); ++m) {
        text_.sample(name, {{"db", d.name}, {"mode", std::string(kCheckpointModeNames[m])}},
                     value(*d.capture, m));
      }
    }
  }

  // One histogram per captured database.
  void histogram(const char* name, const char* help,
                 const std::function<const DurationHistogram&(const CaptureMetrics&)>& get) {
    if (!anyCaptured()) return;
    text_.family(name, "histogram", help);
    const std::string bucket = std::string(name) + "_bucket";
    for (const auto& d : dbs_) {
      if (!d.capture) continue;
      const DurationHistogram& h = get(*d.capture);
      for (size_t i = 0; i < DurationHistogram::kBoundsSeconds.size(); ++i) {
        text_.sample(bucket,
                     {{"db", d.name}, {"le", formatDouble(DurationHistogram::kBoundsSeconds[i])}},
                     std::to_string(h.bucketCount(i)));
      }
      text_.sample(bucket, {{"db", d.name}, {"le", "+Inf"}}, std::to_string(h.count()));
      text_.sample(std::string(name) + "_sum", {{"db", d.name}}, formatDouble(h.sumSeconds()));
      text_.sample(std::string(name) + "_count", {{"db", d.name}}, std::to_string(h.count()));
    }
  }

  // One family with one sample per database that has a backup; none when no database has.
  void backupFamily(const char* name, const char* type, const char* help,
                    const std::function<std::string(const proto::BackupStatusJson&)>& value) {
    if (std::none_of(dbs_.begin(), dbs_.end(), [](const auto& d) { return d.backup; })) return;
    text_.family(name, type, help);
    for (const auto& d : dbs_) {
      if (d.backup) text_.sample(name, {{"db", d.name}}, value(*d.backup));
    }
  }

  // One family with a single sample, without labels.
  void single(const char* name, const char* type, const char* help, uint64_t value) {
    text_.family(name, type, help);
    text_.sample(name, std::to_string(value));
  }

  std::string take() { return text_.take(); }

 private:
  bool anyCaptured() const {
    return std::any_of(dbs_.begin(), dbs_.end(), [](const auto& d) { return d.capture; });
  }

  const std::vector<DatabaseMetricsSample>& dbs_;
  httpd::PrometheusText text_;
};

std::string u64(uint64_t v) {
  return std::to_string(v);
}

}  // namespace

std::string renderMetrics(const std::vector<DatabaseMetricsSample>& dbs,
                          const ServerMetricsSample& server) {
  Writer w(dbs);
  w.single("walstream_streams_open", "gauge",
           "/stream responses open, all databases together (against --max-streams).",
           server.streamsOpen);
  w.single("walstream_max_streams", "gauge", "--max-streams.", server.maxStreams);
  w.single("walstream_streams_refused_total", "counter",
           "/stream requests answered 503 because --max-streams were open.", server.streamsRefused);
  w.family("walstream_capture_healthy", "gauge", "1 while the database is being captured.",
           [](const auto& d) { return u64(d.healthy ? 1 : 0); });
  w.captureFamily("walstream_wal_bytes_copied_total", "counter",
                  "WAL bytes copied into the shadow WAL.",
                  [](const auto& c) { return u64(c.walBytesCopied.load()); });
  w.captureFamily("walstream_segments_written_total", "counter", "Shadow WAL segments written.",
                  [](const auto& c) { return u64(c.segmentsWritten.load()); });
  w.captureFamily("walstream_generations_started_total", "counter", "Generations started.",
                  [](const auto& c) { return u64(c.generationsStarted.load()); });
  w.captureFamily("walstream_wal_restarts_total", "counter",
                  "WAL restarts followed without losing continuity (index + 1).",
                  [](const auto& c) { return u64(c.walRestarts.load()); });
  w.perMode("walstream_checkpoints_total", "Checkpoints run by walstream, by mode.",
            [](const auto& c, size_t m) { return u64(c.checkpoints[m].load()); });
  w.perMode("walstream_checkpoint_seconds_total", "Time spent in checkpoints, by mode.",
            [](const auto& c, size_t m) {
              return formatDouble(static_cast<double>(c.checkpointMicros[m].load()) / 1e6);
            });
  w.captureFamily(
      "walstream_checkpoint_handoffs_deferred_total", "counter",
      "Checkpoint hand-offs put off because capture was too far behind the application's "
      "writes to copy the rest under its write lock.",
      [](const auto& c) { return u64(c.handOffsDeferred.load()); });
  w.captureFamily("walstream_wal_size_bytes", "gauge", "Size of the -wal file at the last sync.",
                  [](const auto& c) { return u64(c.walBytes.load()); });
  w.captureFamily("walstream_snapshots_open", "gauge",
                  "Snapshot images open (streams sharing one count once); each holds a read "
                  "transaction that holds back checkpoints.",
                  [](const auto& c) {
                    return u64(static_cast<uint64_t>(std::max<int64_t>(0, c.snapshotsOpen.load())));
                  });
  w.family("walstream_wal_index", "gauge", "Current WAL index of the published position.",
           [](const auto& d) { return u64(d.pos.index); });
  w.family("walstream_wal_offset", "gauge", "Current WAL offset of the published position.",
           [](const auto& d) { return u64(d.pos.offset); });
  w.histogram("walstream_sync_duration_seconds", "Duration of capture syncs.",
              [](const auto& c) -> const DurationHistogram& { return c.syncDuration; });
  w.family("walstream_streams_connected", "gauge", "Connected /stream clients.",
           [](const auto& d) { return u64(d.streams); });
  w.family("walstream_streams_started_total", "counter", "/stream responses begun.",
           [](const auto& d) { return u64(d.streamsStarted); });
  w.family("walstream_stream_bytes_sent_total", "counter", "Bytes sent to /stream clients.",
           [](const auto& d) { return u64(d.bytesSent); });
  w.backupFamily("walstream_backup_healthy", "gauge",
                 "0 once the backup fell behind past --backup-max-lag, until its next snapshot.",
                 [](const auto& b) { return u64(b.overMaxLag ? 0 : 1); });
  w.backupFamily("walstream_backup_lag_bytes", "gauge",
                 "WAL bytes captured and not yet in the backup's store.",
                 [](const auto& b) { return u64(b.lagBytes); });
  w.backupFamily("walstream_backup_lag_seconds", "gauge",
                 "Time since the oldest WAL not yet in the store was captured.",
                 [](const auto& b) { return formatDouble(b.lagSeconds); });
  w.backupFamily("walstream_backup_errors_total", "counter",
                 "Failed attempts to write to the backup's store.",
                 [](const auto& b) { return u64(b.errors); });
  return w.take();
}

}  // namespace walstream::server
