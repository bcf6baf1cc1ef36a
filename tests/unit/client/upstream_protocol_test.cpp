// Telling which protocol an upstream speaks, and watching a stream that has no heartbeats.
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "client/streaming_get.h"
#include "client/tcp_keepalive.h"
#include "client/upstream_protocol.h"
#include "core/file_util.h"

using namespace walstream;
using namespace walstream::client;

namespace {

int intOption(int fd, int level, int name) {
  int v = -1;
  socklen_t len = sizeof v;
  REQUIRE(::getsockopt(fd, level, name, &v, &len) == 0);
  return v;
}

}  // namespace

TEST_CASE("--upstream-protocol takes auto and original only") {
  CHECK(parseUpstreamProtocol("auto") == UpstreamProtocol::kAuto);
  CHECK(parseUpstreamProtocol("original") == UpstreamProtocol::kOriginal);
  CHECK_FALSE(parseUpstreamProtocol("walstream").has_value());
  CHECK_FALSE(parseUpstreamProtocol("").has_value());
}

TEST_CASE("a response without Walstream-Page-Size comes from a primary of the original protocol") {
  HttpResponseHead original;
  original.status = 200;
  original.headers["litestream-page-size"] = "4096";
  CHECK(respondsInOriginalProtocol(original));
  HttpResponseHead walstream = original;
  walstream.headers["walstream-page-size"] = "4096";
  CHECK_FALSE(respondsInOriginalProtocol(walstream));
  CHECK(namesDatabaseByPath("/srv/app.db"));
  CHECK_FALSE(namesDatabaseByPath("app.db"));
  CHECK_FALSE(namesDatabaseByPath(""));
}

TEST_CASE("keepalive is turned on with the documented probe timing") {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  REQUIRE(fd.valid());
  CHECK(intOption(fd.get(), SOL_SOCKET, SO_KEEPALIVE) == 0);
  enableTcpKeepalive(fd.get());
  CHECK(intOption(fd.get(), SOL_SOCKET, SO_KEEPALIVE) == 1);
  CHECK(intOption(fd.get(), IPPROTO_TCP, TCP_KEEPIDLE) == kKeepaliveIdle.count());
  CHECK(intOption(fd.get(), IPPROTO_TCP, TCP_KEEPINTVL) == kKeepaliveInterval.count());
  CHECK(intOption(fd.get(), IPPROTO_TCP, TCP_KEEPCNT) == kKeepaliveProbes);
}
