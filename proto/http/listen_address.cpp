#include "proto/http/listen_address.h"

#include <charconv>
#include <stdexcept>

namespace walstream::httpd {

ListenAddress parseListenAddress(std::string_view text) {
  auto fail = [&](const std::string& why) {
    throw std::invalid_argument("invalid address \"" + std::string(text) + "\": " + why +
                                " (want :PORT, HOST:PORT or [IPV6]:PORT)");
  };
  ListenAddress out;
  std::string_view portText;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) fail("missing ']'");
    out.host = std::string(text.substr(1, close - 1));
    if (out.host.empty()) fail("empty IPv6 host");
    if (close + 1 >= text.size() || text[close + 1] != ':') fail("missing :PORT");
    portText = text.substr(close + 2);
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) fail("missing :PORT");
    out.host = std::string(text.substr(0, colon));
    if (out.host.find(':') != std::string::npos) fail("an IPv6 host needs [brackets]");
    portText = text.substr(colon + 1);
  }
  unsigned port = 0;
  auto [p, ec] = std::from_chars(portText.data(), portText.data() + portText.size(), port);
  if (portText.empty() || ec != std::errc() || p != portText.data() + portText.size() ||
      port > 65535) {
    fail("port must be a number from 0 to 65535");
  }
  out.port = static_cast<uint16_t>(port);
  return out;
}

}  // namespace walstream::httpd
