#include "proto/http/endpoint_text.h"

namespace walstream::httpd {

std::string endpointText(const boost::asio::ip::tcp::endpoint& endpoint) {
  const auto address = endpoint.address();
  const std::string host = address.is_v6() ? "[" + address.to_string() + "]" : address.to_string();
  return host + ":" + std::to_string(endpoint.port());
}

std::string remoteEndpointText(const boost::asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  const auto endpoint = socket.remote_endpoint(ec);
  return ec ? "unknown" : endpointText(endpoint);
}

}  // namespace walstream::httpd
