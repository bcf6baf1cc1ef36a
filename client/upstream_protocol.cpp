#include "client/upstream_protocol.h"

#include "client/streaming_get.h"

namespace walstream::client {

std::optional<UpstreamProtocol> parseUpstreamProtocol(std::string_view text) {
  if (text == "auto") return UpstreamProtocol::kAuto;
  if (text == "original") return UpstreamProtocol::kOriginal;
  return std::nullopt;
}

bool respondsInOriginalProtocol(const HttpResponseHead& head) {
  return !head.headers.contains("walstream-page-size");
}

}  // namespace walstream::client
