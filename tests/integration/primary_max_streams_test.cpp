// --max-streams: /stream responses open at once, all databases together. Beyond it a new
// /stream request is answered 503 with Retry-After and a line of plain text, while /status,
// /metrics and /healthz are still answered; a place comes back when a stream ends.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "tests/support/cluster.h"
#include "tests/support/db_writer.h"
#include "tests/support/http_client.h"
#include "tests/support/primary_status.h"
#include "tests/support/process.h"
#include "tests/support/stream_replay.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

// A stream with its first record read: it holds its place for sure.
std::unique_ptr<HttpStream> openStream(uint16_t port) {
  auto stream = std::make_unique<HttpStream>(port, "/stream?pos=", 10s);
  REQUIRE(stream->status() == 200);
  REQUIRE(readRecord(*stream, scaled(10s)));
  return stream;
}

// A stream once the server has seen a place come back (bounded); nullptr if it never did.
std::unique_ptr<HttpStream> streamOnceAdmitted(uint16_t port, std::chrono::milliseconds patience) {
  const auto until = std::chrono::steady_clock::now() + patience;
  while (std::chrono::steady_clock::now() < until) {
    auto stream = std::make_unique<HttpStream>(port, "/stream?pos=", 10s);
    if (stream->status() == 200) return stream;
    std::this_thread::sleep_for(50ms);
  }
  return nullptr;
}

}  // namespace

TEST_CASE("beyond --max-streams a stream is answered 503 with Retry-After; /status still is") {
  TempDir dir;
  const std::string db = dir.file("app.db");
  createWriterTable(db);
  const auto help = runToCompletion({WALSTREAM_BINARY, "primary", "--help"}, dir.file("help"));
  CHECK(help.out.find("--max-streams N") != std::string::npos);
  PrimaryProcess primary(db, dir.file("primary"), {"--max-streams", "2"});
  waitForCapture(primary.port());

  auto first = openStream(primary.port());
  auto second = openStream(primary.port());
  const HttpResponse refused = httpRequest(primary.port(), "/stream?pos=");
  CHECK(refused.status == 503);
  CHECK(refused.header("retry-after") == "1");
  CHECK(refused.header("content-type").rfind("text/plain", 0) == 0);
  CHECK(refused.body == "too many streams: 2 are open (--max-streams); retry later\n");

  // The other endpoints are answered, and count the streams.
  const auto status = fetchStatus(primary.port());
  CHECK(status.streams.open == 2);
  CHECK(status.streams.max == 2);
  CHECK(status.streams.refused == 1);
  const HttpResponse metrics = httpRequest(primary.port(), "/metrics");
  REQUIRE(metrics.status == 200);
  CHECK(metrics.body.find("\nwalstream_streams_open 2\n") != std::string::npos);
  CHECK(metrics.body.find("\nwalstream_max_streams 2\n") != std::string::npos);
  CHECK(metrics.body.find("\nwalstream_streams_refused_total 1\n") != std::string::npos);
  CHECK(httpRequest(primary.port(), "/healthz").status == 200);

  // A stream that ends gives its place back.
  first.reset();
  auto third = streamOnceAdmitted(primary.port(), scaled(10s));
  REQUIRE(third);
  CHECK(readRecord(*third, scaled(10s)));
  CHECK(fetchStatus(primary.port()).streams.open == 2);
}
