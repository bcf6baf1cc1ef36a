#include "proto/http/endpoint_text.h"

namespace walstream::httpd {

std::string endpointText(const boost::asio::ip::tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  // Appended piece by piece: GCC 12 at -O3 warns (-Wrestrict, a false positive) on
  // "[" + std::string, which would stop a release build with warnings as errors.
  std::string text;
  if (address.is_v6()) text += '[';
  text += address.to_string();
  if (address.is_v6()) text += ']';
  text += ':';
  text += std::to_string(endpoint.port());
  return text;
}

std::string remoteEndpointText(const boost::asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  return ec ? "unknown" : endpointText(endpoint);
}

}  // namespace walstream::httpd
