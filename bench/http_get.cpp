#include "bench/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <cerrno>

#include "core/error.h"

namespace walstream::bench {

std::string httpGet(uint16_t port, const std::string& target, std::chrono::milliseconds timeout) {
  return httpCall("GET", port, target, timeout);
}

std::string httpCall(const std::string& method, uint16_t port, const std::string& target,
                     std::chrono::milliseconds timeout) {
  return HttpRequestInFlight(method, port, target, timeout).answer();
}

HttpRequestInFlight::HttpRequestInFlight(const std::string& method, uint16_t port,
                                         const std::string& target,
                                         std::chrono::milliseconds timeout)
    : method_(method),
      where_("http://127.0.0.1:" + std::to_string(port) + target),
      sock_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
  if (!sock_.valid()) throwErrno("socket for", where_);
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  ::setsockopt(sock_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(sock_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(sock_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    throwErrno("cannot connect to", where_);
  }
  const std::string request =
      method + " " + target + " HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n";
  writeFull(sock_.get(), request.data(), request.size(), where_);
}

std::string HttpRequestInFlight::answer() {
  std::string response;
  char buf[8192];
  // The response ends when the server closes (HTTP/1.0); a peer that sends more than 16 MiB
  // is not a status endpoint.
  while (response.size() < (16u << 20)) {
    const ssize_t n = ::recv(sock_.get(), buf, sizeof buf, 0);
    if (n == 0) break;
    if (n < 0) {
      if (errno == EINTR) continue;
      throwErrno("cannot read the response of", where_);
    }
    if (response.empty()) firstByteAt_ = std::chrono::steady_clock::now();
    response.append(buf, static_cast<size_t>(n));
  }
  const size_t headerEnd = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || headerEnd == std::string::npos) {
    throw Error("malformed HTTP response from " + where_ + ": " + response.substr(0, 200));
  }
  const std::string statusLine = response.substr(0, response.find("\r\n"));
  if (statusLine.find(" 200") == std::string::npos) {
    throw Error(method_ + " " + where_ + " answered " + statusLine + ": " +
                response.substr(headerEnd + 4, 300));
  }
  return response.substr(headerEnd + 4);
}

}  // namespace walstream::bench
