#include "client/tcp_keepalive.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "core/error.h"

namespace walstream::client {

namespace {

void setIntOption(int fd, int level, int name, int value, const char* what) {
  if (::setsockopt(fd, level, name, &value, sizeof value) != 0) {
    throw Error(std::string("cannot set ") + what +
                " on the stream connection: " + std::strerror(errno));
  }
}

}  // namespace

void enableTcpKeepalive(int fd) {
  setIntOption(fd, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE");
  setIntOption(fd, IPPROTO_TCP, TCP_KEEPIDLE, static_cast<int>(kKeepaliveIdle.count()),
               "TCP_KEEPIDLE");
  setIntOption(fd, IPPROTO_TCP, TCP_KEEPINTVL, static_cast<int>(kKeepaliveInterval.count()),
               "TCP_KEEPINTVL");
  setIntOption(fd, IPPROTO_TCP, TCP_KEEPCNT, kKeepaliveProbes, "TCP_KEEPCNT");
}

}  // namespace walstream::client
