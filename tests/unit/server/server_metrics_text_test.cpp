#include <doctest/doctest.h>

#include "server/metrics_text.h"

using namespace walstream;
using namespace walstream::server;

TEST_CASE("/metrics text: one HELP/TYPE per family, a sample per database and mode") {
  CaptureMetrics a, b;
  a.walBytesCopied = 1234;
  a.segmentsWritten = 7;
  a.checkpoints[static_cast<size_t>(CheckpointMode::kWaitForReaders)] = 2;
  a.checkpointMicros[static_cast<size_t>(CheckpointMode::kWaitForReaders)] = 1'500'000;
  a.walBytes = 4096;
  a.handOffsDeferred = 6;
  a.syncDuration.observe(0.0002);
  a.syncDuration.observe(1.0);
  proto::BackupStatusJson backup;
  backup.url = "file:///srv/backups/app";
  backup.lagBytes = 4096;
  backup.lagSeconds = 0.5;
  backup.errors = 3;
  backup.overMaxLag = true;
  const std::string text =
      renderMetrics({{"app.db", &a, Pos{1, 3, 0x1f60}, true, 2, 5, 999, backup},
                     {"we\"ird\\name\n.db", &b, Pos{}, false, 0, 0, 0, std::nullopt}},
                    {2, 64, 7});

  auto has = [&](const std::string& line) {
    CAPTURE(line);
    CHECK(text.find(line + "\n") != std::string::npos);
  };
  has("# TYPE walstream_wal_bytes_copied_total counter");
  has("walstream_wal_bytes_copied_total{db=\"app.db\"} 1234");
  has("walstream_segments_written_total{db=\"app.db\"} 7");
  has("walstream_checkpoints_total{db=\"app.db\",mode=\"wait_for_readers\"} 2");
  has("walstream_checkpoints_total{db=\"app.db\",mode=\"passive\"} 0");
  has("walstream_checkpoint_seconds_total{db=\"app.db\",mode=\"wait_for_readers\"} 1.5");
  has("walstream_wal_size_bytes{db=\"app.db\"} 4096");
  has("walstream_checkpoint_handoffs_deferred_total{db=\"app.db\"} 6");
  has("walstream_wal_index{db=\"app.db\"} 3");
  has("walstream_wal_offset{db=\"app.db\"} 8032");
  has("walstream_capture_healthy{db=\"app.db\"} 1");
  has("walstream_streams_connected{db=\"app.db\"} 2");
  has("walstream_stream_bytes_sent_total{db=\"app.db\"} 999");
  has("walstream_streams_started_total{db=\"app.db\"} 5");
  has("# TYPE walstream_streams_open gauge");
  has("walstream_streams_open 2");
  has("walstream_max_streams 64");
  has("# TYPE walstream_streams_refused_total counter");
  has("walstream_streams_refused_total 7");
  has("# TYPE walstream_sync_duration_seconds histogram");
  has("walstream_sync_duration_seconds_bucket{db=\"app.db\",le=\"0.0001\"} 0");
  has("walstream_sync_duration_seconds_bucket{db=\"app.db\",le=\"0.00025\"} 1");
  has("walstream_sync_duration_seconds_bucket{db=\"app.db\",le=\"0.5\"} 1");
  has("walstream_sync_duration_seconds_bucket{db=\"app.db\",le=\"2\"} 2");
  has("walstream_sync_duration_seconds_bucket{db=\"app.db\",le=\"+Inf\"} 2");
  has("walstream_sync_duration_seconds_count{db=\"app.db\"} 2");
  has("walstream_sync_duration_seconds_sum{db=\"app.db\"} 1.0002");
  // Backup families, for the databases that have a backup only.
  has("walstream_backup_healthy{db=\"app.db\"} 0");
  has("walstream_backup_lag_bytes{db=\"app.db\"} 4096");
  has("walstream_backup_lag_seconds{db=\"app.db\"} 0.5");
  has("walstream_backup_errors_total{db=\"app.db\"} 3");
  CHECK(text.find("walstream_backup_healthy{db=\"we") == std::string::npos);
  // Label values are escaped.
  has("walstream_capture_healthy{db=\"we\\\"ird\\\\name\\n.db\"} 0");

  size_t families = 0;
  for (size_t at = 0; (at = text.find("# TYPE walstream_wal_index ", at)) != std::string::npos;
       ++at) {
    ++families;
  }
  CHECK(families == 1);
}

TEST_CASE("/metrics text: no backup family when no database has a backup") {
  CaptureMetrics a;
  const std::string text = renderMetrics({{"app.db", &a, Pos{}, true, 0, 0, 0, std::nullopt}});
  CHECK(text.find("walstream_backup") == std::string::npos);
}

TEST_CASE("/metrics text: capture families only for captured databases") {
  CaptureMetrics a;
  a.walBytesCopied = 42;
  a.syncDuration.observe(0.001);
  // "relayed.db" is served from a source that captures nothing (docs/stream-source.md §3).
  const std::string mixed =
      renderMetrics({{"app.db", &a, Pos{1, 2, 0}, true, 0, 0, 0, std::nullopt},
                     {"relayed.db", nullptr, Pos{1, 5, 0}, true, 1, 1, 10, std::nullopt}});
  CHECK(mixed.find("walstream_wal_bytes_copied_total{db=\"app.db\"} 42\n") != std::string::npos);
  CHECK(mixed.find("walstream_sync_duration_seconds_count{db=\"app.db\"} 1\n") !=
        std::string::npos);
  CHECK(mixed.find("walstream_checkpoints_total{db=\"app.db\",mode=\"passive\"} 0\n") !=
        std::string::npos);
  CHECK(mixed.find("_total{db=\"relayed.db\",mode=") == std::string::npos);
  CHECK(mixed.find("walstream_wal_bytes_copied_total{db=\"relayed.db\"}") == std::string::npos);
  CHECK(mixed.find("walstream_sync_duration_seconds_count{db=\"relayed.db\"}") ==
        std::string::npos);
  CHECK(mixed.find("walstream_wal_index{db=\"relayed.db\"} 5\n") != std::string::npos);
  CHECK(mixed.find("walstream_streams_connected{db=\"relayed.db\"} 1\n") != std::string::npos);

  const std::string none =
      renderMetrics({{"relayed.db", nullptr, Pos{1, 5, 0}, false, 0, 0, 0, std::nullopt}});
  CHECK(none.find("walstream_wal_bytes_copied_total") == std::string::npos);
  CHECK(none.find("walstream_checkpoints_total") == std::string::npos);
  CHECK(none.find("walstream_sync_duration_seconds") == std::string::npos);
  CHECK(none.find("walstream_capture_healthy{db=\"relayed.db\"} 0\n") != std::string::npos);
}
