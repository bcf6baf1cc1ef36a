// What the primary's and the replica's --http servers share (proto/http/), with the real
// binaries: both bind the same address forms (127.0.0.1:0, localhost:0, [::1]:0 where this
// host has IPv6, :0 on IPv4 and IPv6), both answer HEAD as GET without the body, both drop a
// request that trickles in at --header-timeout and bound what a request's header, target and
// body make them hold; the primary closes idle keep-alive connections at --idle-timeout.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <regex>

#include "tests/support/canned_http_server.h"
#include "tests/support/db_writer.h"
#include "tests/support/hostile_clients.h"
#include "tests/support/http_exchange.h"
#include "tests/support/primary_status.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"
#include "tests/support/time_scale.h"

using namespace walstream::test;
using namespace std::chrono_literals;

namespace {

// Whether this host can bind ::1 (IPv6 may be disabled in a container).
bool ipv6Loopback() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in6 addr{};
  addr.sin6_family = AF_INET6;
  addr.sin6_addr = in6addr_loopback;
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// A server started with --http ADDR, and the address it logged as bound.
struct Server {
  std::unique_ptr<CannedHttpServer> upstream;  // the replica's primary
  std::unique_ptr<Process> process;
  std::string host;  // without brackets
  uint16_t port = 0;
};

// "... listening on http://HOST:PORT ..." of the log line containing `needle`.
void readBoundAddress(Server& s, const std::string& needle) {
  const std::string line = s.process->waitForStderr(needle, 30s);
  std::smatch m;
  REQUIRE_MESSAGE(std::regex_search(line, m,
                                    std::regex("listening on http://(\\[([^\\]]+)\\]|([0-9.]+)):"
                                               "([0-9]+)")),
                  s.process->stderrText());
  s.host = m[2].matched ? m[2].str() : m[3].str();
  s.port = static_cast<uint16_t>(std::stoi(m[4].str()));
}

Server startPrimary(const TempDir& dir, const std::string& address, const std::string& name,
                    const std::vector<std::string>& flags) {
  const std::string db = dir.file(name + ".db");
  createWriterTable(db);
  Server s;
  std::vector<std::string> argv{WALSTREAM_BINARY, "primary", "--http", address};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back(db);
  s.process = std::make_unique<Process>(argv, dir.file(name));
  readBoundAddress(s, "listening on http://");
  return s;
}

Server startReplica(const TempDir& dir, const std::string& address, const std::string& name,
                    const std::vector<std::string>& flags) {
  Server s;
  s.upstream = std::make_unique<CannedHttpServer>(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
      "Content-Length: 21\r\nConnection: close\r\n\r\n{\"error\":\"starting\"}\n");
  std::vector<std::string> argv{WALSTREAM_BINARY, "replica", "--upstream", s.upstream->url(),
                                "--db",           "app.db",  "--http",     address};
  argv.insert(argv.end(), flags.begin(), flags.end());
  argv.push_back(dir.file(name + ".db"));
  s.process = std::make_unique<Process>(argv, dir.file(name));
  readBoundAddress(s, "replica status: listening on");
  return s;
}

// Starts a server on `address` (with `flags`), logging under `name`.
using Start = std::function<Server(const TempDir&, const std::string&, const std::string&,
                                   const std::vector<std::string>&)>;

const std::vector<std::pair<std::string, Start>> kServers = {{"primary", startPrimary},
                                                             {"replica", startReplica}};

// The status code of an answer on the wire.
int statusOf(const std::string& answer) {
  REQUIRE(answer.rfind("HTTP/1.1 ", 0) == 0);
  return std::stoi(answer.substr(9, 3));
}

// The value of header `name` (as the servers spell it), "" when absent.
std::string headerOf(const std::string& answer, const std::string& name) {
  const std::string head = answer.substr(0, answer.find("\r\n\r\n"));
  const size_t at = head.find("\r\n" + name + ": ");
  if (at == std::string::npos) return "";
  const size_t from = at + name.size() + 4;
  return head.substr(from, head.find("\r\n", from) - from);
}

// What follows the headers.
std::string bodyOf(const std::string& answer) {
  const size_t end = answer.find("\r\n\r\n");
  REQUIRE(end != std::string::npos);
  return answer.substr(end + 4);
}

void stop(Server& s) {
  s.process->signal(SIGTERM);
  CHECK(s.process->wait(20s) == std::optional<int>(0));
}

}  // namespace

TEST_CASE("both servers bind the same --http forms and answer on each") {
  const bool v6 = ipv6Loopback();
  if (!v6) MESSAGE("no IPv6 loopback on this host: [::1]:0 and :0 over IPv6 are skipped");
  struct Form {
    std::string address;
    std::vector<std::string> bound;  // the host logged, one of
    std::vector<std::string> reach;  // hosts a client connects to
  };
  std::vector<Form> forms = {{"127.0.0.1:0", {"127.0.0.1"}, {"127.0.0.1"}},
                             {"localhost:0", {"127.0.0.1", "::1"}, {}},
                             {":0", {v6 ? "::" : "0.0.0.0"}, {"127.0.0.1"}}};
  if (v6) {
    forms.push_back({"[::1]:0", {"::1"}, {"::1"}});
    forms[2].reach.push_back("::1");  // one dual-stack socket takes both
  }
  TempDir dir;
  int n = 0;
  for (const auto& [kind, start] : kServers) {
    for (const Form& form : forms) {
      CAPTURE(kind);
      CAPTURE(form.address);
      Server s = start(dir, form.address, kind + std::to_string(n++), {});
      CHECK(std::find(form.bound.begin(), form.bound.end(), s.host) != form.bound.end());
      // localhost: the address it resolved to.
      const std::vector<std::string> reach = form.reach.empty() ? std::vector{s.host} : form.reach;
      for (const std::string& host : reach) {
        CAPTURE(host);
        const std::string answer = httpExchange(host, s.port, closingRequest("GET", "/status"));
        CHECK(statusOf(answer) == 200);
        CHECK(headerOf(answer, "Content-Type") == "application/json");
      }
      stop(s);
    }
  }
}

TEST_CASE("both servers answer HEAD as GET without the body, and refuse other methods alike") {
  TempDir dir;
  for (const auto& [kind, start] : kServers) {
    CAPTURE(kind);
    Server s = start(dir, "127.0.0.1:0", kind, {});
    for (const char* path : {"/status", "/metrics", "/healthz"}) {
      CAPTURE(path);
      const std::string get = httpExchange(s.host, s.port, closingRequest("GET", path));
      const std::string head = httpExchange(s.host, s.port, closingRequest("HEAD", path));
      CHECK(statusOf(head) == statusOf(get));
      CHECK(headerOf(head, "Content-Type") == headerOf(get, "Content-Type"));
      CHECK(headerOf(head, "Cache-Control") == "no-store");
      CHECK(std::stoul(headerOf(head, "Content-Length")) > 0);
      CHECK(bodyOf(head).empty());
      CHECK(bodyOf(get).size() == std::stoul(headerOf(get, "Content-Length")));

      const std::string post = httpExchange(s.host, s.port, closingRequest("POST", path));
      CHECK(statusOf(post) == 405);
      CHECK(headerOf(post, "Allow") == "GET, HEAD");
      CHECK(bodyOf(post) == "{\"error\":\"method POST not allowed on " + std::string(path) +
                                "; use GET or HEAD\"}\n");
    }
    const std::string missing = httpExchange(s.host, s.port, closingRequest("HEAD", "/nope"));
    CHECK(statusOf(missing) == 404);
    CHECK(bodyOf(missing).empty());
    stop(s);
  }
}

TEST_CASE("both servers drop a request sent a byte a second at --header-timeout") {
  TempDir dir;
  for (const auto& [kind, start] : kServers) {
    CAPTURE(kind);
    Server s = start(dir, "127.0.0.1:0", kind, {"--header-timeout", "2s"});
    // A header that takes minutes at a byte a second.
    TricklingRequests trickling(
        s.port, 3,
        "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + std::string(500, 'a'));
    REQUIRE(trickling.size() == 3);
    for (const auto& c : trickling.waitForClose(scaled(15s))) {
      REQUIRE(c.after.has_value());
      const double seconds = std::chrono::duration<double>(*c.after).count();
      CAPTURE(seconds);
      CHECK(seconds >= 1.8);
      CHECK(seconds <= 2.0 + scaledBound(1.0));
      CHECK(c.bytesSent >= 2);  // it was sending all along
    }
    CHECK(statusOf(httpExchange(s.host, s.port, closingRequest("GET", "/status"))) == 200);
    stop(s);
  }
}

TEST_CASE("both servers bound the header, the target and the body a client sends") {
  TempDir dir;
  const std::string host = "Host: 127.0.0.1\r\n";
  const std::vector<std::pair<std::string, std::string>> endless = {
      {"a header line", "GET /status HTTP/1.1\r\n" + host + "X-Long: "},
      {"a target", "GET /status?"},
      {"a body", "POST /status HTTP/1.1\r\n" + host + "Content-Length: 1073741824\r\n\r\n"}};
  for (const auto& [kind, start] : kServers) {
    CAPTURE(kind);
    // A long header timeout: only the bounds on the request can end these connections in time.
    Server s = start(dir, "127.0.0.1:0", kind, {"--header-timeout", "10m"});
    for (const auto& [part, head] : endless) {
      CAPTURE(part);
      // The socket buffers between the two take in megabytes; a server that kept what it reads
      // would take all 64 MiB.
      const int64_t sent =
          sendEndlessRequest(s.port, head, std::string(64 * 1024, 'a'), uint64_t{64} << 20);
      REQUIRE(sent >= 0);
      CHECK(sent < (int64_t{16} << 20));
      CHECK(statusOf(httpExchange(s.host, s.port, closingRequest("GET", "/status"))) == 200);
    }
    stop(s);
  }
}

namespace {

// A connection to 127.0.0.1:port (closed when destroyed).
struct RawConnection {
  explicit RawConnection(uint16_t port) : fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~RawConnection() { ::close(fd); }
  void send(const std::string& bytes) const {
    REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(bytes.size()));
  }
  // Reads until `bytes` arrived in all, or the server closed, or `timeout` passed; returns what
  // came and whether the server closed.
  std::pair<std::string, bool> read(size_t bytes, std::chrono::milliseconds timeout) const {
    std::string got;
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (got.size() < bytes) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      pollfd p{fd, POLLIN, 0};
      if (left.count() <= 0 || ::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buf[4096];
      const ssize_t n = ::recv(fd, buf, std::min(sizeof buf, bytes - got.size()), 0);
      if (n <= 0) return {got, true};
      got.append(buf, static_cast<size_t>(n));
    }
    return {got, false};
  }
  int fd;
};

std::string keepAliveRequest(const std::string& target) {
  return "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
}

}  // namespace

TEST_CASE("the primary closes a keep-alive connection idle for --idle-timeout") {
  TempDir dir;
  Server s = startPrimary(dir, "127.0.0.1:0", "primary",
                          {"--idle-timeout", "1s", "--header-timeout", "5s"});
  REQUIRE(waitUntilServing(s.port, 30s));  // /healthz answers 200 once capture runs
  const size_t answer = keepAliveAnswerBytes(s.port, "/healthz");
  RawConnection c(s.port);
  c.send(keepAliveRequest("/healthz"));
  const auto first = c.read(answer, 5s);
  REQUIRE_FALSE(first.second);
  CHECK(statusOf(first.first) == 200);
  // A second request within the idle timeout is answered on the same connection.
  c.send(keepAliveRequest("/healthz"));
  const auto second = c.read(answer, 5s);
  REQUIRE_FALSE(second.second);
  CHECK(statusOf(second.first) == 200);
  // Then nothing: closed after the idle timeout, long before the header timeout.
  const auto answered = std::chrono::steady_clock::now();
  const auto idle = c.read(1, scaled(10s));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - answered).count();
  CHECK(idle.second);
  CHECK(idle.first.empty());
  CHECK(seconds >= 0.8);
  CHECK(seconds <= 1.0 + scaledBound(1.5));
  stop(s);
}
