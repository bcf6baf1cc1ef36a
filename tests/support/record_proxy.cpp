#include "tests/support/record_proxy.h"

#include <poll.h>
#include <sys/socket.h>

#include <cstdio>
#include <stdexcept>

#include "tests/support/http_client.h"
#include "tests/support/loopback_server.h"

namespace walstream::test {

namespace {

constexpr auto kRecordWait = std::chrono::milliseconds(50);

std::string chunk(const std::string& data) {
  char size[32];
  std::snprintf(size, sizeof size, "%zx\r\n", data.size());
  return size + data + "\r\n";
}

}  // namespace

RecordProxy::RecordProxy(uint16_t upstreamPort, Filter filter)
    : upstreamPort_(upstreamPort), filter_(std::move(filter)), listener_(listenOnLoopback(port_)) {
  thread_ = std::thread([this] { serve(); });
}

RecordProxy::~RecordProxy() {
  stop_ = true;
  thread_.join();
}

void RecordProxy::serve() {
  serveRequests(listener_.get(), stop_, [this](int fd, const std::string& target) {
    ++connections_;
    try {
      relay(fd, target);
    } catch (const std::exception& e) {
      // The upstream failed or went away: the client sees its connection close.
      std::fprintf(stderr, "record proxy: %s: %s\n", target.c_str(), e.what());
    }
  });
}

void RecordProxy::relay(int client, const std::string& target) {
  HttpStream upstream(upstreamPort_, target);
  std::string head = "HTTP/1.1 " + std::to_string(upstream.status()) + " Relayed\r\n";
  for (const auto& [name, value] : upstream.response().headers) {
    if (name.starts_with("walstream-") || name == "content-type") {
      head += name + ": " + value + "\r\n";
    }
  }
  if (upstream.status() != 200 || !target.starts_with("/stream")) {
    const std::string body = upstream.readToEnd(std::chrono::seconds(5));
    sendAll(client, head + "Content-Length: " + std::to_string(body.size()) +
                        "\r\nConnection: close\r\n\r\n" + body);
    return;
  }
  if (!sendAll(client, head + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")) return;
  while (!stop_) {
    std::optional<StreamRecord> r = readRecord(upstream, kRecordWait);
    if (!r) {
      if (upstream.end() != BodyEnd::kOpen) break;
      // The client hung up (a replica that refused what it got reconnects): stop relaying.
      pollfd p{client, POLLRDHUP, 0};
      if (::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR))) return;
      continue;
    }
    for (const StreamRecord& out : filter_(std::move(*r))) {
      const auto h = out.header.encode();
      if (!sendAll(client, chunk(std::string(h.begin(), h.end()) + out.payload))) return;
    }
  }
  sendAll(client, "0\r\n\r\n");
}

}  // namespace walstream::test
