// TLS and bearer tokens on the real binaries (proto/http/server_access.h): replication over TLS
// with a CA the test makes, the replica refusing certificates it must not trust, plain and TLS
// clients on the wrong port, 401s on both servers, SIGHUP reloading certificates and tokens
// while a stream stays open, and the replica reading its upstream token again at each connection.
// Clients: the replica itself, curl, and raw HTTP.
#include <doctest/doctest.h>
#include <signal.h>

#include <fstream>
#include <optional>
#include <regex>

#include "core/file_util.h"
#include "tests/support/cluster.h"
#include "tests/support/curl.h"
#include "tests/support/hostile_clients.h"
#include "tests/support/http_exchange.h"
#include "tests/support/poll_until.h"
#include "tests/support/primary_status.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_ca.h"
#include "tests/support/time_scale.h"

using namespace walstream;
using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

void writeText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << text;
}

// The port of the replica's --http, from its listening line.
uint16_t replicaStatusPort(Process& replica) {
  const std::string log = replica.waitForStderr("replica status: listening on", 30s);
  std::smatch m;
  REQUIRE_MESSAGE(std::regex_search(log, m,
                                    std::regex("replica status: listening on https?://"
                                               "127\\.0\\.0\\.1:([0-9]+)")),
                  log);
  return static_cast<uint16_t>(std::stoi(m[1]));
}

// A raw GET of `target` on 127.0.0.1:port with `authorization` ("" for none), every byte of
// the answer.
std::string getWith(uint16_t port, const std::string& target, const std::string& authorization) {
  std::string request = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
  if (!authorization.empty()) request += "Authorization: " + authorization + "\r\n";
  request += "Connection: close\r\n\r\n";
  return httpExchange("127.0.0.1", port, request);
}

int statusOf(const std::string& answer) {
  REQUIRE_MESSAGE(answer.rfind("HTTP/1.1 ", 0) == 0, answer);
  return std::stoi(answer.substr(9, 3));
}

// Waits (bounded) until `process` has logged `needle` `times` times; returns the log.
std::string waitForCount(Process& process, const std::string& needle, size_t times) {
  std::string log;
  pollUntil(
      [&] {
        log = process.stderrText();
        return countOf(log, needle) >= times;
      },
      scaled(30s), 20ms);
  return log;
}

std::vector<std::string> tlsFlags(const IssuedCertificate& c) {
  return {"--tls-cert", c.cert, "--tls-key", c.key};
}

// A directory with a test CA, a server certificate it signed, and the primary's database.
struct TlsFixture {
  TlsFixture() { createBank(db); }
  TempDir dir;
  const TestCa ca{dir.path(), "main"};
  const IssuedCertificate server = ca.issue("server");
  const std::string db = dir.file("primary.db");
};

}  // namespace

TEST_CASE_FIXTURE(
    TlsFixture,
    "replication over TLS with a CA made by the test converges, and curl --cacert reads "
    "both servers' /status") {
  const std::string local = dir.file("replica.db");
  PrimaryProcess primary(db, dir.file("primary"), tlsFlags(server));
  REQUIRE(primary.url().rfind("https://", 0) == 0);
  std::vector<std::string> replicaFlags = {"--tls-ca", ca.caFile(), "--http", "127.0.0.1:0"};
  for (const std::string& flag : tlsFlags(server)) replicaFlags.push_back(flag);
  ReplicaProcess replica(primary.url(), local, dir.file("replica"), replicaFlags);
  {
    BankWriter writer(db, 0, 300);
    writer.waitFor(300, 60s);
  }
  CHECK(waitForConvergence(db, local, 60s));

  const CurlResult p =
      curl(primary.url() + "/status", {"--cacert", ca.caFile()}, dir.file("curl-primary"));
  CHECK_MESSAGE(p.status == 200, p.err);
  CHECK(p.body.find("\"streams\":[{") != std::string::npos);
  const uint16_t statusPort = replicaStatusPort(replica.process());
  const CurlResult r = curl("https://localhost:" + std::to_string(statusPort) + "/status",
                            {"--cacert", ca.caFile()}, dir.file("curl-replica"));
  CHECK_MESSAGE(r.status == 200, r.err);
  CHECK(r.body.find("\"connected\":true") != std::string::npos);
}

TEST_CASE(
    "the replica refuses a certificate of another CA, a self-signed, an expired or a "
    "wrong-host one, naming the cause, and applies nothing") {
  TempDir dir;
  const TestCa trusted(dir.path(), "trusted");
  const TestCa other(dir.path(), "other");
  struct Case {
    std::string name;
    IssuedCertificate cert;
    std::string host;
    std::string cause;
  };
  const std::vector<Case> cases = {
      {"another CA", other.issue("other"), "127.0.0.1", "unable to get local issuer certificate"},
      {"self-signed", selfSignedCertificate(dir.path(), "self"), "127.0.0.1",
       "self-signed certificate"},
      {"expired", trusted.issue("expired", "IP:127.0.0.1,DNS:localhost", -1), "127.0.0.1",
       "certificate has expired"},
      {"another address", trusted.issue("elsewhere", "DNS:db.example.com"), "127.0.0.1",
       "IP address mismatch"},
      {"another name", trusted.issue("ip-only", "IP:127.0.0.1"), "localhost", "hostname mismatch"},
  };
  const std::string db = dir.file("primary.db");
  createBank(db);
  for (const Case& c : cases) {
    CAPTURE(c.name);
    PrimaryProcess primary(db, dir.file("primary-" + c.cert.key.substr(dir.path().size() + 1)),
                           tlsFlags(c.cert));
    const std::string local = dir.file("replica-" + std::to_string(&c - cases.data()) + ".db");
    ReplicaProcess replica("https://" + c.host + ":" + std::to_string(primary.port()), local, local,
                           {"--tls-ca", trusted.caFile()});
    const std::string log = replica.process().waitForStderr(c.cause, 30s);
    CHECK_MESSAGE(log.find("certificate verify failed: " + c.cause) != std::string::npos, log);
    CHECK(replica.snapshotsApplied() == 0);
    CHECK(primary.process().stderrText().find("streaming to") == std::string::npos);
    CHECK_FALSE(pathExists(local));
  }
}

TEST_CASE_FIXTURE(
    TlsFixture,
    "a plain client on a TLS port and a TLS client on a plain port fail cleanly, logged "
    "once, and the servers go on") {
  PrimaryProcess tlsPrimary(db, dir.file("tls-primary"), tlsFlags(server));
  // A database of its own: two primaries capturing one database would share its shadow WAL.
  const std::string plainDb = dir.file("plain.db");
  createBank(plainDb);
  PrimaryProcess plainPrimary(plainDb, dir.file("plain-primary"));
  // Both serving (capture started: /healthz 200) before the wrong clients come, so that the
  // checks after them see what those clients left, not a start still under way on a busy machine.
  REQUIRE(waitUntilServing(plainPrimary.port(), scaled(30s)));
  int attempts = 0;
  REQUIRE(pollUntil(
      [&] {
        return curl(tlsPrimary.url() + "/healthz", {"--cacert", ca.caFile()},
                    dir.file("c0-" + std::to_string(attempts++)))
                   .status == 200;
      },
      scaled(30s)));

  // Plain HTTP to the TLS port: the connection is closed, no answer.
  std::string answer = "unset";
  try {
    answer = getWith(tlsPrimary.port(), "/status", "");
  } catch (const std::exception& e) {
    answer = "";  // a reset is as clean a refusal as a close
  }
  CHECK(answer.find("HTTP/1.1 200") == std::string::npos);
  std::string log = waitForCount(tlsPrimary.process(), "spoke plain HTTP to this TLS port", 1);
  CHECK(countOf(log, "spoke plain HTTP to this TLS port") == 1);
  CHECK(curl(tlsPrimary.url() + "/healthz", {"--cacert", ca.caFile()}, dir.file("c1")).status ==
        200);

  // TLS to the plain port: curl fails, the server says so once and answers plain HTTP still.
  const CurlResult refused =
      curl("https://127.0.0.1:" + std::to_string(plainPrimary.port()) + "/status",
           {"--cacert", ca.caFile()}, dir.file("c2"));
  CHECK(refused.exitCode != 0);
  CHECK(refused.status == 0);
  log = waitForCount(plainPrimary.process(), "connected to this plain HTTP port", 1);
  CHECK(countOf(log, "a TLS client (127.0.0.1:") == 1);
  const std::string health = getWith(plainPrimary.port(), "/healthz", "");
  CHECK_MESSAGE(statusOf(health) == 200, health);

  // The replica's --http alike, and the replica's own client towards a plain primary.
  std::vector<std::string> flags = {"--http", "127.0.0.1:0"};
  for (const std::string& flag : tlsFlags(server)) flags.push_back(flag);
  ReplicaProcess tlsReplica(plainPrimary.url(), dir.file("r1.db"), dir.file("r1"), flags);
  ReplicaProcess plainReplica(plainPrimary.url(), dir.file("r2.db"), dir.file("r2"),
                              {"--http", "127.0.0.1:0"});
  const uint16_t tlsPort = replicaStatusPort(tlsReplica.process());
  const uint16_t plainPort = replicaStatusPort(plainReplica.process());
  try {
    answer = getWith(tlsPort, "/status", "");
  } catch (const std::exception&) {
    answer = "";
  }
  CHECK(answer.find("HTTP/1.1 200") == std::string::npos);
  log = waitForCount(tlsReplica.process(), "spoke plain HTTP to this TLS port", 1);
  CHECK(countOf(log, "replica status: TLS handshake with 127.0.0.1:") == 1);
  CHECK(curl("https://127.0.0.1:" + std::to_string(plainPort) + "/status",
             {"--cacert", ca.caFile()}, dir.file("c3"))
            .exitCode != 0);
  log = waitForCount(plainReplica.process(), "connected to this plain HTTP port", 1);
  CHECK(countOf(log, "replica status: a TLS client (127.0.0.1:") == 1);
  CHECK(statusOf(getWith(plainPort, "/status", "")) == 200);

  ReplicaProcess wrongScheme("https://127.0.0.1:" + std::to_string(plainPrimary.port()),
                             dir.file("r3.db"), dir.file("r3"), {"--tls-ca", ca.caFile()});
  log = wrongScheme.process().waitForStderr("does not speak TLS", 30s);
  CHECK_MESSAGE(log.find("TLS handshake with 127.0.0.1:") != std::string::npos, log);
}

TEST_CASE_FIXTURE(
    TlsFixture,
    "a TLS handshake that never comes is cut after --stall-timeout, and the server goes on") {
  std::vector<std::string> flags = tlsFlags(server);
  for (const char* flag : {"--stall-timeout", "1s"}) flags.push_back(flag);
  PrimaryProcess primary(db, dir.file("primary"), flags);
  SilentConnections silent(primary.port(), 3);
  REQUIRE(silent.size() == 3);
  const std::string log = waitForCount(primary.process(), "failed: timed out", 3);
  CHECK(countOf(log, "TLS handshake with 127.0.0.1:") == 3);
  CHECK(curl(primary.url() + "/healthz", {"--cacert", ca.caFile()}, dir.file("c")).status == 200);
}

TEST_CASE(
    "bearer tokens: 401 without or with a wrong token and 200 with one on both servers, "
    "/healthz open, tokens never shown") {
  TempDir dir;
  const std::string primaryToken = "primary-token-6f1c2a";
  const std::string otherToken = "second-token-93be77";
  const std::string replicaToken = "replica-token-0d4e18";
  writeText(dir.file("primary.tokens"),
            "# replicas\n\n" + primaryToken + "\n  " + otherToken + "  \r\n");
  writeText(dir.file("replica.tokens"), replicaToken + "\n");
  writeText(dir.file("upstream.token"), "# the primary's\n" + otherToken + "\n");
  const std::string db = dir.file("primary.db");
  const std::string local = dir.file("replica.db");
  createBank(db);
  PrimaryProcess primary(db, dir.file("primary"), {"--token-file", dir.file("primary.tokens")});
  ReplicaProcess replica(primary.url(), local, dir.file("replica"),
                         {"--upstream-token-file", dir.file("upstream.token"), "--http",
                          "127.0.0.1:0", "--token-file", dir.file("replica.tokens")});
  {
    BankWriter writer(db, 0, 100);
    writer.waitFor(100, 60s);
  }
  CHECK(waitForConvergence(db, local, 60s));
  const uint16_t replicaPort = replicaStatusPort(replica.process());

  struct Endpoint {
    uint16_t port;
    std::string target;
    std::string token;
  };
  const std::vector<Endpoint> endpoints = {
      {primary.port(), "/status", primaryToken},     {primary.port(), "/metrics", otherToken},
      {primary.port(), "/stream?db=primary.db", ""},  // 200 with a token: the replica's stream
      {replicaPort, "/status", replicaToken},        {replicaPort, "/metrics", replicaToken},
  };
  std::string shown;  // every body a client was given
  for (const Endpoint& e : endpoints) {
    CAPTURE(e.port);
    CAPTURE(e.target);
    for (const std::string& wrong : std::vector<std::string>{
             "", "Bearer nope", "Basic " + primaryToken, "Bearer " + replicaToken + "x"}) {
      const std::string answer = getWith(e.port, e.target, wrong);
      CHECK(statusOf(answer) == 401);
      CHECK(answer.find("\r\nWWW-Authenticate: Bearer") != std::string::npos);
    }
    if (e.token.empty()) continue;
    const std::string answer = getWith(e.port, e.target, "Bearer " + e.token);
    CHECK(statusOf(answer) == 200);
    shown += answer;
  }
  for (const uint16_t port : {primary.port(), replicaPort}) {
    CHECK(statusOf(getWith(port, "/healthz", "")) == 200);
  }
  // The primary's stream went to the replica: with its token, as the primary's /status shows.
  CHECK(shown.find("\"streams\":[{") != std::string::npos);
  const std::string logs = primary.process().stderrText() + replica.process().stderrText();
  for (const std::string& token : {primaryToken, otherToken, replicaToken}) {
    CHECK(logs.find(token) == std::string::npos);
    CHECK(shown.find(token) == std::string::npos);
  }

  // Without a token, or with one the primary does not take: a configuration error, asked again
  // later, not in a loop.
  Process noToken(
      {"/usr/bin/env", "WALSTREAM_UPSTREAM_TOKEN=not-" + otherToken, WALSTREAM_BINARY, "replica",
       "--upstream", primary.url(), "--http", "127.0.0.1:0", dir.file("refused.db")},
      dir.file("refused"));
  const std::string refusedLog = noToken.waitForStderr("refuses the replica's credentials", 30s);
  CHECK(refusedLog.find("configuration error") != std::string::npos);
  CHECK(refusedLog.find(otherToken) == std::string::npos);
  const std::string status = getWith(replicaStatusPort(noToken), "/status", "");
  CHECK(status.find("refuses the replica's credentials (401") != std::string::npos);
  CHECK(countOf(noToken.stderrText(), "refuses the replica's credentials") == 1);
}

TEST_CASE(
    "an empty or missing token file, or an unreadable certificate, stops either server at "
    "start with one line and exit 2") {
  TempDir dir;
  const std::string db = dir.file("primary.db");
  createBank(db);
  writeText(dir.file("empty.tokens"), "# nothing yet\n\n");
  struct Case {
    std::vector<std::string> flags;
    std::string says;
  };
  const std::vector<Case> cases = {
      {{"--token-file", dir.file("missing.tokens")}, "token file: cannot open"},
      {{"--token-file", dir.file("empty.tokens")}, "holds no token"},
      {{"--tls-cert", dir.file("missing.pem"), "--tls-key", dir.file("missing.key")},
       "TLS certificate: cannot open"},
      {{"--tls-cert", dir.file("empty.tokens"), "--tls-key", dir.file("empty.tokens")},
       "cannot use the TLS certificate"},
  };
  for (const Case& c : cases) {
    for (const std::string command : {"primary", "replica"}) {
      CAPTURE(command);
      CAPTURE(c.says);
      std::vector<std::string> argv = {WALSTREAM_BINARY, command, "--http", "127.0.0.1:0"};
      if (command == "replica") {
        for (const char* a : {"--upstream", "http://127.0.0.1:1"}) argv.push_back(a);
      }
      argv.insert(argv.end(), c.flags.begin(), c.flags.end());
      argv.push_back(command == "primary" ? db : dir.file("replica.db"));
      const RunResult r = runToCompletion(argv, dir.file(command));
      CHECK(r.exitCode == 2);
      CHECK_MESSAGE(r.err.find(c.says) != std::string::npos, r.err);
      CHECK(countOf(r.err, "\n") == 1);
    }
  }
}

TEST_CASE(
    "SIGHUP reloads certificates and tokens for new connections while an open stream "
    "keeps delivering") {
  TempDir dir;
  const TestCa before(dir.path(), "before");
  const TestCa after(dir.path(), "after");
  const IssuedCertificate first = before.issue("first");
  const IssuedCertificate second = after.issue("second");
  const std::string served = dir.file("served");  // the files the primary is given
  writeText(served + ".pem", readFile(first.cert));
  writeText(served + ".key", readFile(first.key));
  const std::string oldToken = "old-token-5a9d01";
  const std::string newToken = "new-token-c3e442";
  writeText(dir.file("tokens"), oldToken + "\n");
  writeText(dir.file("upstream.token"), oldToken + "\n");
  writeText(dir.file("replica.tokens"), oldToken + "\n");

  const std::string db = dir.file("primary.db");
  const std::string local = dir.file("replica.db");
  createBank(db);
  PrimaryProcess primary(db, dir.file("primary"),
                         {"--tls-cert", served + ".pem", "--tls-key", served + ".key",
                          "--token-file", dir.file("tokens")});
  ReplicaProcess replica(
      primary.url(), local, dir.file("replica"),
      {"--tls-ca", before.caFile(), "--upstream-token-file", dir.file("upstream.token"), "--http",
       "127.0.0.1:0", "--token-file", dir.file("replica.tokens")});
  const uint16_t replicaPort = replicaStatusPort(replica.process());
  {
    BankWriter writer(db, 0, 100);
    writer.waitFor(100, 60s);
  }
  REQUIRE(waitForConvergence(db, local, 60s));

  // Rotation: the new certificate (of another CA) and the new token, then SIGHUP to both.
  writeText(served + ".pem", readFile(second.cert));
  writeText(served + ".key", readFile(second.key));
  writeText(dir.file("tokens"), newToken + "\n");
  writeText(dir.file("replica.tokens"), newToken + "\n");
  primary.process().signal(SIGHUP);
  replica.process().signal(SIGHUP);
  std::string log = primary.process().waitForStderr("reloaded 1 token(s)", 30s);
  CHECK(log.find("SIGHUP: reloaded the TLS certificate") != std::string::npos);
  CHECK(!replica.process().waitForStderr("SIGHUP: reloaded 1 token(s)", 30s).empty());

  // The open stream still delivers, on the same connection.
  {
    BankWriter writer(db, 0, 100);
    writer.waitFor(100, 60s);
  }
  CHECK(waitForConvergence(db, local, 60s));
  log = replica.process().stderrText();
  CHECK(countOf(log, ": connected to ") == 1);
  CHECK(countOf(log, ": disconnected from ") == 0);

  // New connections see the new certificate and want the new token.
  const std::string url = primary.url() + "/status";
  CHECK(curl(url, {"--cacert", before.caFile(), "-H", "Authorization: Bearer " + newToken},
             dir.file("c1"))
            .exitCode != 0);
  CHECK(curl(url, {"--cacert", after.caFile(), "-H", "Authorization: Bearer " + oldToken},
             dir.file("c2"))
            .status == 401);
  CHECK(curl(url, {"--cacert", after.caFile(), "-H", "Authorization: Bearer " + newToken},
             dir.file("c3"))
            .status == 200);
  CHECK(statusOf(getWith(replicaPort, "/status", "Bearer " + oldToken)) == 401);
  CHECK(statusOf(getWith(replicaPort, "/status", "Bearer " + newToken)) == 200);

  // A reload that fails keeps what was loaded, and says why.
  writeText(dir.file("tokens"), "# emptied by mistake\n");
  primary.process().signal(SIGHUP);
  log = primary.process().waitForStderr("keeping the current tokens", 30s);
  CHECK(log.find("holds no token") != std::string::npos);
  CHECK(curl(url, {"--cacert", after.caFile(), "-H", "Authorization: Bearer " + newToken},
             dir.file("c4"))
            .status == 200);
  for (const std::string& token : {oldToken, newToken}) {
    CHECK(log.find(token) == std::string::npos);
    CHECK(replica.process().stderrText().find(token) == std::string::npos);
  }
}

TEST_CASE(
    "a replica sends the token its --upstream-token-file holds when it connects again, and "
    "keeps the last good one when the file is emptied") {
  TempDir dir;
  const std::string oldToken = "old-upstream-7f21c0";
  const std::string newToken = "new-upstream-94be3d";
  writeText(dir.file("tokens"), oldToken + "\n");
  writeText(dir.file("upstream.token"), oldToken + "\n");
  const std::string db = dir.file("primary.db");
  const std::string local = dir.file("replica.db");
  createBank(db);
  const std::vector<std::string> primaryFlags = {"--token-file", dir.file("tokens")};
  std::optional<PrimaryProcess> primary;
  primary.emplace(db, dir.file("primary-1"), primaryFlags);
  const uint16_t port = primary->port();
  ReplicaProcess replica(primary->url(), local, dir.file("replica"),
                         {"--upstream-token-file", dir.file("upstream.token")});
  auto writeAndConverge = [&] {
    BankWriter writer(db, 0, 100);
    writer.waitFor(100, 60s);
    writer.stop();
    return waitForConvergence(db, local, 60s);
  };
  REQUIRE(writeAndConverge());

  // The primary accepts only the new token from its restart on; the replica's file holds it
  // before then, so the replica's next connection must send it.
  writeText(dir.file("tokens"), newToken + "\n");
  writeText(dir.file("upstream.token"), newToken + "\n");
  primary.reset();
  primary.emplace(db, dir.file("primary-2"), primaryFlags, port);
  CHECK(writeAndConverge());
  std::string log = replica.process().stderrText();
  CHECK(log.find("a new upstream token was read from") != std::string::npos);
  CHECK(log.find("refuses the replica's credentials") == std::string::npos);

  // A file emptied by mistake: the replica says so and goes on with the token it has.
  writeText(dir.file("upstream.token"), "");
  primary.reset();
  primary.emplace(db, dir.file("primary-3"), primaryFlags, port);
  CHECK(writeAndConverge());
  log = replica.process().stderrText();
  CHECK(log.find("holds no token; sending the token read before") != std::string::npos);
  CHECK(log.find("refuses the replica's credentials") == std::string::npos);
  for (const std::string& token : {oldToken, newToken}) {
    CHECK(log.find(token) == std::string::npos);
  }
}
