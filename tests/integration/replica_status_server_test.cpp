// The replica's --http endpoints against hostile clients and upstreams, with the real binary:
// bytes that are not UTF-8 in a request or in an upstream's error never take the process down
// (they are escaped in answers and logs), a request whose chunk framing never ends is dropped
// at a small bound, a flood of connections is capped (--max-connections) so that LOCAL_DB and
// the stream keep their descriptors, and a replica out of descriptors neither spins in its
// accept loop nor stays at a soft open-file limit below its hard one.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "core/file_util.h"
#include "tests/support/canned_http_server.h"
#include "tests/support/contains.h"
#include "tests/support/hostile_clients.h"
#include "tests/support/hostile_stream.h"
#include "tests/support/http_client.h"
#include "tests/support/process.h"
#include "tests/support/process_usage.h"
#include "tests/support/sanitizers.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

std::string upstreamAnswer(int status, const std::string& reason, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\nConnection: close\r\n\r\n" + body;
}

// User plus system CPU time of a process, from /proc/PID/stat.
std::chrono::milliseconds cpuTime(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Fields after the command name (which may hold spaces) start after the last ')'.
  std::istringstream fields(text.substr(text.rfind(')') + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; fields >> field; ++i) {
    if (i == 14) utime = std::stoll(field);
    if (i == 15) {
      stime = std::stoll(field);
      break;
    }
  }
  const long ticks = ::sysconf(_SC_CLK_TCK);
  return std::chrono::milliseconds((utime + stime) * 1000 / ticks);
}

// A TCP connection to 127.0.0.1:port that sends nothing; -1 when it cannot be made.
UniqueFd idleConnection(uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (!fd.valid() || ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    return UniqueFd();
  }
  return fd;
}

// /status of the replica, retried (bounded) while its server frees descriptors.
std::optional<HttpResponse> statusWithin(uint16_t port, std::chrono::milliseconds patience) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      HttpResponse r = httpRequest(port, "/status", 2s);
      if (r.status == 200) return r;
    } catch (const std::exception&) {
    }
    std::this_thread::sleep_for(50ms);
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("a request whose path is not UTF-8 gets a 404, and the replica keeps serving") {
  TempDir dir;
  CannedHttpServer primary(upstreamAnswer(503, "Service Unavailable", R"({"error":"starting"})"));
  Process replica({WALSTREAM_BINARY, "replica", "--upstream", primary.url(), "--db", "app.db",
                   "--http", "127.0.0.1:0", dir.file("replica.db")},
                  dir.file("replica"));
  const uint16_t port = replicaStatusPort(replica);

  const HttpResponse bad = httpRequest(port, "/\xff\xfestatus");
  CHECK(bad.status == 404);
  const auto json = nlohmann::json::parse(bad.body);  // valid JSON, hence valid UTF-8
  CHECK(json.at("error").get<std::string>().find("\\xff\\xfestatus") != std::string::npos);
  CHECK(replica.running());
  const HttpResponse status = httpRequest(port, "/status");
  CHECK(status.status == 200);
  replica.signal(SIGTERM);
  CHECK(replica.wait(10s) == std::optional<int>(0));
}

TEST_CASE("an upstream error that is not UTF-8 shows escaped in /status and in the log") {
  TempDir dir;
  for (const int code : {404, 500}) {
    CAPTURE(code);
    // Invalid UTF-8, a C1 control and a line break: none may reach JSON or the log raw.
    CannedHttpServer primary(
        upstreamAnswer(code, "Oops", "{\"error\":\"no \xff\xc0 db\xc2\x85 here\nFAKE LOG\"}"));
    const std::string name = "replica-" + std::to_string(code);
    Process replica({WALSTREAM_BINARY, "replica", "--upstream", primary.url(), "--db", "app.db",
                     "--http", "127.0.0.1:0", dir.file(name + ".db")},
                    dir.file(name));
    const uint16_t port = replicaStatusPort(replica);
    REQUIRE(primary.waitForRequests(1, 20s) >= 1);
    // The error is noted before /status shows it: poll (bounded) until it does.
    std::string lastError;
    for (auto deadline = std::chrono::steady_clock::now() + 20s;
         lastError.empty() && std::chrono::steady_clock::now() < deadline;) {
      const HttpResponse status = httpRequest(port, "/status");
      REQUIRE(status.status == 200);
      lastError = nlohmann::json::parse(status.body).at("last_error").get<std::string>();
      if (lastError.empty()) std::this_thread::sleep_for(20ms);
    }
    CHECK(lastError.find("no \\xff\\xc0 db\\xc2\\x85 here\\x0aFAKE LOG") != std::string::npos);
    CHECK(replica.running());
    const std::string log = replica.waitForStderr("FAKE LOG", 10s);
    CHECK(log.find("\\x0aFAKE LOG") != std::string::npos);
    CHECK(log.find('\xff') == std::string::npos);
    CHECK(log.find("\nFAKE LOG") == std::string::npos);
    replica.signal(SIGTERM);
    CHECK(replica.wait(10s) == std::optional<int>(0));
  }
}

TEST_CASE("a replica out of descriptors backs off in its accept loop, and recovers") {
  TempDir dir;
  // A 400 is a configuration error, asked again only after 30 s: the stream thread opens no
  // connection (needing descriptors) while this test runs, so the status server alone is
  // measured.
  CannedHttpServer primary(upstreamAnswer(400, "Bad Request", R"({"error":"no"})"));
  // Soft and hard limit 48: raising the soft limit cannot help. A connection cap above it (the
  // default would be 1) lets the connections take every descriptor, as other descriptor use
  // might.
  Process replica({"/bin/sh", "-c", "ulimit -n 48 && exec \"$0\" \"$@\"", WALSTREAM_BINARY,
                   "replica", "--upstream", primary.url(), "--db", "app.db", "--http",
                   "127.0.0.1:0", "--max-connections", "1000", dir.file("replica.db")},
                  dir.file("replica"));
  const uint16_t port = replicaStatusPort(replica);
  // One request first. UBSan (in the sanitized build) checks an object's dynamic type the first
  // time a code path meets it by reading it through a pipe(2), and so takes every first check
  // made without a free descriptor for an invalid object and aborts. After this request, the
  // status server's paths are known to it.
  REQUIRE(httpRequest(port, "/status").status == 200);
  // And the stream thread's request is over: it waits 30 s before the next.
  REQUIRE(replica.waitForStderr("configuration error", 20s) != "");
  // More idle connections than the replica has descriptors: the rest wait in its backlog, so
  // accept() keeps failing with EMFILE while they are open.
  std::vector<UniqueFd> idle;
  for (int i = 0; i < 96; ++i) {
    UniqueFd fd = idleConnection(port);
    REQUIRE(fd.valid());
    idle.push_back(std::move(fd));
  }
  const auto before = cpuTime(replica.pid());
  const auto start = std::chrono::steady_clock::now();
  // A measurement over a fixed window: CPU time is what is checked, not an event to wait for.
  std::this_thread::sleep_for(2s);
  const auto used = cpuTime(replica.pid()) - before;
  const auto elapsed = std::chrono::steady_clock::now() - start;
  MESSAGE("replica CPU while out of descriptors: ", used.count(), " ms in ",
          std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count(), " ms");
  // A spinning accept loop takes a whole core (about 2000 ms here); backing off, a few ms.
  CHECK(used < 300ms);
  CHECK(replica.stderrText().find("cannot accept a connection: Too many open files") !=
        std::string::npos);
  CHECK_MESSAGE(replica.running(), replica.stderrText());

  idle.clear();
  const auto status = statusWithin(port, 20s);
  CHECK_MESSAGE(status.has_value(), replica.stderrText());
  replica.signal(SIGTERM);
  CHECK(replica.wait(10s) == std::optional<int>(0));
}

TEST_CASE("the replica raises its soft open-file limit to the hard limit") {
  TempDir dir;
  CannedHttpServer primary(upstreamAnswer(503, "Service Unavailable", R"({"error":"starting"})"));
  Process replica(
      {"/bin/sh", "-c", "ulimit -Sn 64 && ulimit -Hn 4096 && exec \"$0\" \"$@\"", WALSTREAM_BINARY,
       "replica", "--upstream", primary.url(), "--db", "app.db", dir.file("replica.db")},
      dir.file("replica"));
  REQUIRE(replica.waitForStderr("following", 20s) != "");
  std::ifstream in("/proc/" + std::to_string(replica.pid()) + "/limits");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::smatch m;
  REQUIRE(std::regex_search(text, m, std::regex("Max open files +([0-9]+) +([0-9]+)")));
  CHECK(m[1].str() == "4096");
  CHECK(m[2].str() == "4096");
  replica.signal(SIGTERM);
  CHECK(replica.wait(10s) == std::optional<int>(0));
}

TEST_CASE("a request whose chunk framing never ends is dropped at a small bound") {
  TempDir dir;
  CannedHttpServer primary(upstreamAnswer(503, "Service Unavailable", R"({"error":"starting"})"));
  Process replica({WALSTREAM_BINARY, "replica", "--upstream", primary.url(), "--db", "app.db",
                   "--http", "127.0.0.1:0", dir.file("replica.db")},
                  dir.file("replica"));
  const uint16_t port = replicaStatusPort(replica);
  REQUIRE(httpRequest(port, "/status").status == 200);
  // A chunked request whose chunk extension, or trailer, goes on for up to 512 MiB.
  const std::string head =
      "POST /status HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (const std::string framing : {"1;", "0\r\nX-Trailer: "}) {
    CAPTURE(framing);
    const int64_t sent = sendEndlessRequest(port, head + framing, std::string(size_t{1} << 20, 'a'),
                                            uint64_t{512} << 20);
    const uint64_t peak = peakResidentKiB(replica.pid()) * 1024;
    MESSAGE("sent ", sent >> 20, " MiB before the replica closed; its peak RSS ", peak >> 20,
            " MiB");
    CHECK(sent >= 0);
    CHECK(sent < (int64_t{64} << 20));  // what the socket buffers take, not the whole request
    if (!kThreadSanitizer) CHECK(peak < (uint64_t{192} << 20));
    CHECK_MESSAGE(replica.running(), replica.stderrText());
    CHECK(httpRequest(port, "/status").status == 200);
  }
  replica.signal(SIGTERM);
  CHECK(replica.wait(scaled(10s)) == std::optional<int>(0));
}

TEST_CASE("--max-connections caps the replica's --http connections") {
  TempDir dir;
  const auto help = runToCompletion({WALSTREAM_BINARY, "replica", "--help"}, dir.file("help"));
  CHECK(help.exitCode == 0);
  CHECK(contains(help.out, "--max-connections N"));
  CannedHttpServer primary(upstreamAnswer(503, "Service Unavailable", R"({"error":"starting"})"));
  Process replica({WALSTREAM_BINARY, "replica", "--upstream", primary.url(), "--db", "app.db",
                   "--http", "127.0.0.1:0", "--max-connections", "4", dir.file("replica.db")},
                  dir.file("replica"));
  const uint16_t port = replicaStatusPort(replica);
  CHECK(contains(replica.stderrText(), "at most 4 connections)"));
  REQUIRE(httpRequest(port, "/status").status == 200);
  SilentConnections idle(port, 4);
  REQUIRE(idle.size() == 4);
  // The fifth is closed as soon as it is accepted (the idle ones hold their places for 10 s).
  CHECK_THROWS(httpRequest(port, "/status", 5s));
  CHECK(contains(replica.waitForStderr("refusing connections", scaled(10s)),
                 "refusing connections: 4 are open (--max-connections)"));
  // Closed connections give their places back.
  idle.closeAll();
  const auto status = statusWithin(port, scaled(20s));
  CHECK_MESSAGE(status.has_value(), replica.stderrText());
  replica.signal(SIGTERM);
  CHECK(replica.wait(scaled(10s)) == std::optional<int>(0));
}

TEST_CASE("a flood of --http connections leaves LOCAL_DB and the stream their descriptors") {
  TempDir dir;
  // The upstream answers 503 until the flood is on, then sends a snapshot, which the replica can
  // receive and install only with descriptors to spare (a socket, the received file, LOCAL_DB,
  // its -wal and -shm, the position file).
  std::atomic<bool> ready{false};
  const std::string image = sqliteImage(dir, 4096);
  CannedHttpServer primary([&](int fd, const std::string&) {
    if (!ready) {
      primary.sendAll(fd, upstreamAnswer(503, "Service Unavailable", R"({"error":"starting"})"));
      return;
    }
    primary.sendAll(fd, streamResponseHead(4096) +
                            streamRecord(proto::RecordType::kSnapshot, {0x1234, 0, 0}, image));
  });
  // 128 descriptors, soft and hard: the default cap is (128 - 64) / 2 = 32 connections.
  Process replica(
      {"/usr/bin/prlimit", "--nofile=128:128", "--", WALSTREAM_BINARY, "replica", "--upstream",
       primary.url(), "--db", "app.db", "--http", "127.0.0.1:0", dir.file("replica.db")},
      dir.file("replica"));
  const uint16_t port = replicaStatusPort(replica);
  CHECK(contains(replica.stderrText(), "(open-file limit 128, at most 32 connections)"));
  // One request first: UBSan's first check of a code path needs a descriptor of its own (see
  // the accept-loop test below).
  REQUIRE(httpRequest(port, "/status").status == 200);
  {
    // 300 idle connections, those the replica closes made again every 100 ms.
    ConnectionFlood flood(port, 300);
    for (const auto until = std::chrono::steady_clock::now() + scaled(10s);
         flood.connectionsMade() < 300 && std::chrono::steady_clock::now() < until;) {
      std::this_thread::sleep_for(10ms);
    }
    REQUIRE(flood.connectionsMade() >= 300);
    ready = true;
    CHECK_MESSAGE(replica.waitForStderr("snapshot applied at", scaled(20s)) != "",
                  replica.stderrText());
    MESSAGE(flood.connectionsMade(), " connections made by the flood");
  }
  const std::string log = replica.stderrText();
  CHECK(contains(log, "refusing connections: 32 are open (--max-connections)"));
  CHECK_FALSE(contains(log, "Too many open files"));
  const auto status = statusWithin(port, scaled(20s));
  REQUIRE_MESSAGE(status.has_value(), replica.stderrText());
  CHECK(nlohmann::json::parse(status->body).at("snapshots_applied") >= 1);
  CHECK_MESSAGE(replica.running(), replica.stderrText());
  replica.signal(SIGTERM);
  CHECK(replica.wait(scaled(10s)) == std::optional<int>(0));
}
