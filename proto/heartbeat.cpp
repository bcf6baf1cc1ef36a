#include "proto/heartbeat.h"

#include <stdexcept>

#include "core/byte_order.h"

namespace walstream::proto {

std::array<uint8_t, kHeartbeatPayloadSize> HeartbeatPayload::encode() const {
  std::array<uint8_t, kHeartbeatPayloadSize> b{};
  storeBE64(&b[0], unixMicros);
  storeBE32(&b[8], checksum.s0);
  storeBE32(&b[12], checksum.s1);
  return b;
}

HeartbeatPayload HeartbeatPayload::decode(std::span<const uint8_t> bytes) {
  if (bytes.size() != kHeartbeatPayloadSize) {
    throw std::invalid_argument("heartbeat payload must be 16 bytes, got " +
                                std::to_string(bytes.size()));
  }
  HeartbeatPayload h;
  h.unixMicros = loadBE64(bytes.data());
  h.checksum = {loadBE32(bytes.data() + 8), loadBE32(bytes.data() + 12)};
  return h;
}

}  // namespace walstream::proto
