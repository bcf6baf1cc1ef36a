#include "backup/checked_payload.h"

#include <cstdio>

#include "backup/fnv1a64.h"
#include "core/byte_order.h"
#include "core/error.h"

namespace walstream::backup {

namespace {

std::string hex64(uint64_t v) {
  char text[19];
  std::snprintf(text, sizeof text, "0x%016llx", static_cast<unsigned long long>(v));
  return text;
}

}  // namespace

void PayloadWriter::u32(uint32_t v) {
  uint8_t b[4];
  storeBE32(b, v);
  bytes_.append(reinterpret_cast<const char*>(b), sizeof b);
}

void PayloadWriter::u64(uint64_t v) {
  uint8_t b[8];
  storeBE64(b, v);
  bytes_.append(reinterpret_cast<const char*>(b), sizeof b);
}

std::string PayloadWriter::finish() && {
  u64(fnv1a64({reinterpret_cast<const uint8_t*>(bytes_.data()), bytes_.size()}));
  return std::move(bytes_);
}

PayloadReader::PayloadReader(std::span<const uint8_t> payload, std::string what,
                             std::string_view magic)
    : what_(std::move(what)) {
  if (payload.size() < kPayloadSumSize) {
    fail("payload of " + std::to_string(payload.size()) + " bytes, too short for its sum");
  }
  fields_ = payload.first(payload.size() - kPayloadSumSize);
  const std::span<const uint8_t> found = bytes(magic.size(), "magic");
  if (std::string_view(reinterpret_cast<const char*>(found.data()), found.size()) != magic) {
    fail("magic is not " + std::string(magic));
  }
  const uint64_t stored = loadBE64(payload.last(kPayloadSumSize).data());
  const uint64_t computed = fnv1a64(fields_);
  if (stored != computed) {
    fail("FNV-1a sum mismatch (stored " + hex64(stored) + ", computed " + hex64(computed) +
         "): damaged");
  }
}

std::span<const uint8_t> PayloadReader::bytes(size_t n, std::string_view field) {
  if (remaining() < n) {
    fail("truncated at " + std::string(field) + " (payload byte " + std::to_string(at_) + ": " +
         std::to_string(n) + " bytes needed, " + std::to_string(remaining()) + " left)");
  }
  const std::span<const uint8_t> out = fields_.subspan(at_, n);
  at_ += n;
  return out;
}

uint8_t PayloadReader::u8(std::string_view field) {
  return bytes(1, field)[0];
}

uint32_t PayloadReader::u32(std::string_view field) {
  return loadBE32(bytes(4, field).data());
}

uint64_t PayloadReader::u64(std::string_view field) {
  return loadBE64(bytes(8, field).data());
}

void PayloadReader::fail(const std::string& message) const {
  throw Error(what_ + ": " + message);
}

}  // namespace walstream::backup
