// What the primary's and the replica's --http servers share (proto/http/), with the real
// binaries: both bind the same address forms (127.0.0.1:0, localhost:0, [::1]:0 where this
// host has IPv6, :0 on IPv4 and IPv6), and both answer HEAD as GET without the body.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <regex>

#include "tests/support/canned_http_server.h"
#include "tests/support/db_writer.h"
#include "tests/support/http_exchange.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

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

Server startPrimary(const TempDir& dir, const std::string& address, const std::string& name) {
  const std::string db = dir.file(name + ".db");
  createWriterTable(db);
  Server s;
  s.process = std::make_unique<Process>(
      std::vector<std::string>{WALSTREAM_BINARY, "primary", "--http", address, db}, dir.file(name));
  readBoundAddress(s, "listening on http://");
  return s;
}

Server startReplica(const TempDir& dir, const std::string& address, const std::string& name) {
  Server s;
  s.upstream = std::make_unique<CannedHttpServer>(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
      "Content-Length: 21\r\nConnection: close\r\n\r\n{\"error\":\"starting\"}\n");
  s.process = std::make_unique<Process>(
      std::vector<std::string>{WALSTREAM_BINARY, "replica", "--upstream", s.upstream->url(), "--db",
                               "app.db", "--http", address, dir.file(name + ".db")},
      dir.file(name));
  readBoundAddress(s, "replica status: listening on");
  return s;
}

using Start = std::function<Server(const TempDir&, const std::string&, const std::string&)>;

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
      Server s = start(dir, form.address, kind + std::to_string(n++));
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
    Server s = start(dir, "127.0.0.1:0", kind);
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
