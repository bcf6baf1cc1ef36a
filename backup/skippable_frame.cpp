#include "backup/skippable_frame.h"

#include <cstdio>
#include <limits>

#include "core/byte_order.h"
#include "core/error.h"

namespace walstream::backup {

namespace {

std::string hex32(uint32_t v) {
  char text[11];
  std::snprintf(text, sizeof text, "0x%08X", v);
  return text;
}

}  // namespace

std::string encodeSkippableFrame(uint32_t magic, std::span<const uint8_t> payload,
                                 std::string_view what) {
  if (payload.size() > std::numeric_limits<uint32_t>::max()) {
    throw Error(std::string(what) + ": payload of " + std::to_string(payload.size()) +
                " bytes does not fit a skippable frame");
  }
  uint8_t header[kSkippableFrameHeaderSize];
  storeLE32(header, magic);
  storeLE32(header + 4, static_cast<uint32_t>(payload.size()));
  std::string frame(reinterpret_cast<const char*>(header), sizeof header);
  frame.append(reinterpret_cast<const char*>(payload.data()), payload.size());
  return frame;
}

uint32_t skippableFramePayloadSize(std::span<const uint8_t> bytes, uint32_t magic,
                                   std::string_view what) {
  if (bytes.size() < kSkippableFrameHeaderSize) {
    throw Error(std::string(what) + ": " + std::to_string(bytes.size()) +
                " bytes, too short for a frame header (8)");
  }
  const uint32_t found = loadLE32(bytes.data());
  if (found != magic) {
    throw Error(std::string(what) + ": frame magic " + hex32(found) + ", expected " + hex32(magic));
  }
  return loadLE32(bytes.data() + 4);
}

std::span<const uint8_t> skippableFramePayload(std::span<const uint8_t> bytes, uint32_t magic,
                                               std::string_view what) {
  const uint32_t size = skippableFramePayloadSize(bytes, magic, what);
  if (bytes.size() - kSkippableFrameHeaderSize < size) {
    throw Error(std::string(what) + ": frame declares " + std::to_string(size) +
                " payload bytes, " + std::to_string(bytes.size() - kSkippableFrameHeaderSize) +
                " present");
  }
  return bytes.subspan(kSkippableFrameHeaderSize, size);
}

}  // namespace walstream::backup
