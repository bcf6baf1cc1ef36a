// The primary's HTTP surface and command line: error statuses, /status, /metrics, /healthz,
// flags, signals.
#include <doctest/doctest.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <regex>
#include <thread>

#include "core/file_util.h"
#include "core/pos.h"
#include "tests/support/cluster.h"
#include "tests/support/db_writer.h"
#include "tests/support/http_client.h"
#include "tests/support/primary_status.h"
#include "tests/support/stream_replay.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

void checkJsonError(const HttpResponse& r, int status, const std::string& fragment) {
  CAPTURE(r.body);
  CHECK(r.status == status);
  CHECK(r.header("Content-Type") == "application/json");
  CHECK(r.body.rfind("{\"error\":\"", 0) == 0);
  CHECK(r.body.find(fragment) != std::string::npos);
}

// The value of a Prometheus sample, by its full name with labels; -1 when absent.
double metric(const std::string& text, const std::string& sample) {
  const std::string prefix = sample + " ";
  for (size_t at = 0; (at = text.find(prefix, at)) != std::string::npos; at += prefix.size()) {
    if (at == 0 || text[at - 1] == '\n') return std::stod(text.substr(at + prefix.size()));
  }
  return -1;
}

}  // namespace

TEST_CASE("malformed or unknown requests get JSON errors with the right status") {
  TempDir dir;
  const std::string app = dir.file("app.db"), other = dir.file("other.db");
  createWriterTable(app);
  createWriterTable(other);
  PrimaryProcess primary(other, dir.file("primary"), {app});
  waitForCapture(primary.port());
  const uint16_t port = primary.port();

  checkJsonError(httpRequest(port, "/stream?db=app.db&pos=zz"), 400, "invalid position");
  checkJsonError(httpRequest(port, "/stream?db=app.db&generation=xyz&index=1"), 400,
                 "invalid generation");
  checkJsonError(httpRequest(port, "/stream?db=app.db&generation=0123456789abcdef&index=q"), 400,
                 "invalid index");
  checkJsonError(httpRequest(port, "/stream?db=app.db&generation=0123456789abcdef"), 400,
                 "together");
  checkJsonError(httpRequest(port, "/stream?db=app.db&checksum=12"), 400, "invalid checksum");
  checkJsonError(httpRequest(port, "/stream?db=app.db&heartbeat=5"), 400, "invalid heartbeat");
  checkJsonError(httpRequest(port, "/stream?db=app.db&compress=yes"), 400, "invalid compress");
  checkJsonError(httpRequest(port, "/stream?db=app%zz"), 400, "percent");
  checkJsonError(httpRequest(port, "/stream"), 400, "missing db");
  checkJsonError(httpRequest(port, "/stream?pos="), 400, "missing db");
  checkJsonError(httpRequest(port, "/stream?db=nope.db"), 404, "not served");
  checkJsonError(httpRequest(port, "/stream?path=/etc/passwd"), 404, "not served");
  checkJsonError(httpRequest(port, "/stream?path=" + dir.file("app.db-wal")), 404, "not served");
  checkJsonError(httpRequest(port, "/stream?db=../app.db"), 404, "not served");
  checkJsonError(httpRequest(port, "/nope"), 404, "no such path");
  checkJsonError(httpRequest(port, "/stream/"), 404, "no such path");
  for (const char* method : {"POST", "PUT", "DELETE", "HEAD"}) {
    CAPTURE(method);
    HttpStream s(port, "/stream?db=app.db", 10s, method);
    CHECK(s.status() == 405);
    CHECK(s.header("Allow") == "GET");
  }
  checkJsonError(httpRequest(port, "/status", 10s, "POST"), 405, "use GET");
  checkJsonError(httpRequest(port, "/status", 10s, "G\x01T"), 400, "malformed HTTP request");

  // Accepted spellings: percent-encoding, path= with the full path, unknown parameters.
  for (const std::string& target :
       {std::string("/stream?db=app%2Edb&foo=bar"), "/stream?path=" + app,
        std::string("/stream?path=app.db&pos=")}) {
    CAPTURE(target);
    HttpStream s(port, target);
    CHECK(s.status() == 200);
    auto r = readRecord(s, 20s);
    REQUIRE(r);
    CHECK(r->header.type == 1);
  }
}

TEST_CASE(
    "a database that cannot be captured answers 503 with Retry-After, and /healthz says why") {
  TempDir dir;
  const std::string bad = dir.file("bad.db");
  writeFileAtomic(bad, std::string(8192, 'x'));  // not a SQLite database
  PrimaryProcess primary(bad, dir.file("primary"));

  HttpResponse s = httpRequest(primary.port(), "/stream");
  checkJsonError(s, 503, "bad.db");
  CHECK(s.header("Retry-After") == "1");
  HttpResponse h = httpRequest(primary.port(), "/healthz");
  checkJsonError(h, 503, "bad.db: ");
  CHECK(h.header("Retry-After") == "1");
  const auto status = fetchStatus(primary.port());
  REQUIRE(status.databases.size() == 1);
  CHECK_FALSE(status.databases[0].healthy);
  CHECK(status.databases[0].pos == "");
  CHECK(status.databases[0].generation == "");

  // Fixing the file lets capture recover without a restart: the 503 was not permanent.
  ::unlink(bad.c_str());
  createWriterTable(bad);
  waitForCapture(primary.port());
  CHECK(httpRequest(primary.port(), "/healthz").status == 200);
  HttpStream ok(primary.port(), "/stream");
  CHECK(ok.status() == 200);
}

TEST_CASE("/status, /metrics and /healthz describe the databases and their streams") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  PrimaryProcess primary(db, dir.file("primary"));
  waitForCapture(primary.port());
  insertRows(db, 20, 500);

  HttpStream s(primary.port(), "/stream?db=app.db");
  StreamReplay replay(dir.file("replay.db"), db + "-walstream");
  REQUIRE(replayUntilEqual(s, replay, db, 30s));
  const Pos pos = replay.position();

  HttpResponse raw = httpRequest(primary.port(), "/status");
  CHECK(raw.status == 200);
  CHECK(raw.header("Content-Type") == "application/json");
  const auto status = proto::decodeStatusJson(raw.body);
  REQUIRE(status.databases.size() == 1);
  const auto& d = status.databases[0];
  CHECK(d.name == "app.db");
  CHECK(d.path == db);
  CHECK(d.pageSize == 4096);
  CHECK(d.generation == formatHex16(pos.generation));
  CHECK(d.pos == pos.str());
  CHECK(d.walBytes > 20 * 500);
  CHECK(d.healthy);
  REQUIRE(d.streams.size() == 1);
  CHECK(std::regex_match(d.streams[0].remote, std::regex("127\\.0\\.0\\.1:[0-9]+")));
  CHECK(d.streams[0].pos == pos.str());
  CHECK(std::regex_match(d.streams[0].connectedAt,
                         std::regex("[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
                                    "\\.[0-9]{3}Z")));

  HttpResponse m = httpRequest(primary.port(), "/metrics");
  CHECK(m.status == 200);
  CHECK(m.header("Content-Type").rfind("text/plain", 0) == 0);
  const std::string& t = m.body;
  CHECK(metric(t, "walstream_capture_healthy{db=\"app.db\"}") == 1);
  CHECK(metric(t, "walstream_wal_bytes_copied_total{db=\"app.db\"}") >= 20 * 500);
  CHECK(metric(t, "walstream_segments_written_total{db=\"app.db\"}") >= 1);
  CHECK(metric(t, "walstream_checkpoints_total{db=\"app.db\",mode=\"passive\"}") >= 0);
  CHECK(metric(t, "walstream_checkpoint_seconds_total{db=\"app.db\",mode=\"wait_for_readers\"}") >=
        0);
  CHECK(metric(t, "walstream_wal_index{db=\"app.db\"}") == static_cast<double>(pos.index));
  CHECK(metric(t, "walstream_wal_offset{db=\"app.db\"}") == static_cast<double>(pos.offset));
  CHECK(metric(t, "walstream_sync_duration_seconds_count{db=\"app.db\"}") >= 1);
  CHECK(metric(t, "walstream_sync_duration_seconds_bucket{db=\"app.db\",le=\"+Inf\"}") ==
        metric(t, "walstream_sync_duration_seconds_count{db=\"app.db\"}"));
  CHECK(metric(t, "walstream_streams_connected{db=\"app.db\"}") == 1);
  CHECK(metric(t, "walstream_streams_started_total{db=\"app.db\"}") == 1);
  CHECK(metric(t, "walstream_stream_bytes_sent_total{db=\"app.db\"}") > 4096);
  CHECK(t.find("# TYPE walstream_sync_duration_seconds histogram") != std::string::npos);

  HttpResponse h = httpRequest(primary.port(), "/healthz");
  CHECK(h.status == 200);
  CHECK(h.body == "{\"status\":\"ok\"}\n");
}

TEST_CASE("SIGTERM and SIGINT stop the primary with exit code 0, ending streams cleanly") {
  for (int sig : {SIGTERM, SIGINT}) {
    CAPTURE(sig);
    TempDir dir;
    const std::string db = dir.file("app.db");
    createWriterTable(db);
    PrimaryProcess primary(db, dir.file("primary"));
    waitForCapture(primary.port());
    HttpStream s(primary.port(), "/stream?db=app.db");
    REQUIRE(readRecord(s, 20s));  // the snapshot: the stream is now waiting for segments
    HttpStream idle(primary.port(), "/status");  // a keep-alive connection must not hold it up
    primary.process().signal(sig);
    CHECK(primary.process().wait(20s) == 0);
    CHECK(s.waitForEnd(5s) == BodyEnd::kComplete);
    CHECK(primary.process().stderrText().find("stopped") != std::string::npos);
  }
}

TEST_CASE("without --http the primary captures only, and stops on SIGTERM") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  Process p({WALSTREAM_BINARY, "primary", db}, dir.file("primary"));
  CHECK(p.waitForStderr("starting generation", 30s) != "");
  insertRows(db, 5, 100);
  // The position file appears with the first publish; the rows move it past offset 0.
  const std::string position = db + "-walstream/position";
  auto pastStart = [&] {
    if (!pathExists(position)) return false;
    const std::string text = readFile(position);
    return text.size() == 51 && text.find(":0000000000000000") == std::string::npos;
  };
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (!pastStart() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  CHECK(pastStart());
  CHECK(p.stderrText().find("listening") == std::string::npos);
  p.signal(SIGTERM);
  CHECK(p.wait(20s) == 0);
}

TEST_CASE("command line errors exit 2 with one line naming the problem") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  makeDirs(dir.file("b"));
  struct Case {
    std::vector<std::string> args;
    std::string fragment;
  };
  const std::vector<Case> cases = {
      {{"--bogus", db}, "--bogus"},
      {{"--http", "9090", db}, "--http"},
      {{"--http", "[::1:9090", db}, "--http"},
      {{"--http", "127.0.0.1:70000", db}, "--http"},
      {{"--http", ":", db}, "--http"},
      {{"--monitor-delay", "soon", db}, "--monitor-delay"},
      {{"--min-checkpoint-pages", "-1", db}, "--min-checkpoint-pages"},
      {{"--max-checkpoint-pages", "0", db}, "--max-checkpoint-pages"},
      {{"--min-checkpoint-pages", "500", "--max-checkpoint-pages", "100", db},
       "--max-checkpoint-pages"},
      {{"--shadow-retention", "99999999999", db}, "--shadow-retention"},
      {{"--checkpoint-interval", "1x", db}, "--checkpoint-interval"},
      {{"--busy-timeout", "", db}, "--busy-timeout"},
      {{"--http"}, "--http"},
      {{}, "no database"},
      {{db, dir.file("b/app.db")}, "two databases named app.db"},
  };
  int i = 0;
  for (const auto& c : cases) {
    CAPTURE(c.fragment);
    std::vector<std::string> argv = {WALSTREAM_BINARY, "primary"};
    argv.insert(argv.end(), c.args.begin(), c.args.end());
    auto r = runToCompletion(argv, dir.file("run" + std::to_string(i++)), 20s);
    CHECK(r.exitCode == 2);
    CHECK(r.err.find(c.fragment) != std::string::npos);
    CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  }
}

TEST_CASE("--help lists every primary flag; a busy address is a clear runtime error") {
  TempDir dir;
  auto h = runToCompletion({WALSTREAM_BINARY, "primary", "--help"}, dir.file("help"));
  CHECK(h.exitCode == 0);
  for (const char* flag : {"--http ADDR", "--monitor-delay DURATION", "--min-checkpoint-pages N",
                           "--max-checkpoint-pages N", "--checkpoint-interval DURATION",
                           "--shadow-retention N", "--busy-timeout DURATION"}) {
    CHECK(h.out.find(flag) != std::string::npos);
  }
  CHECK(h.out.find("(default 1000)") != std::string::npos);
  CHECK(h.out.find("(default 1m)") != std::string::npos);

  const std::string db = dir.file("app.db");
  createWriterTable(db);
  PrimaryProcess first(db, dir.file("first"));
  // Another database: a second primary on the first one's is refused before it binds.
  const std::string other = dir.file("other.db");
  createWriterTable(other);
  auto r = runToCompletion(
      {WALSTREAM_BINARY, "primary", "--http", "127.0.0.1:" + std::to_string(first.port()), other},
      dir.file("second"), 20s);
  CHECK(r.exitCode == 1);
  CHECK(r.err.find("127.0.0.1:" + std::to_string(first.port())) != std::string::npos);
}
