#include "proto/header_number.h"

namespace walstream::proto {

std::optional<uint64_t> parseHeaderNumber(std::string_view value, uint64_t max) {
  if (value.empty() || value.size() > 20) return std::nullopt;
  uint64_t v = 0;
  for (char c : value) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<uint64_t>(c - '0');
    if (v > (max - digit) / 10) return std::nullopt;  // v * 10 + digit > max
    v = v * 10 + digit;
  }
  return v;
}

}  // namespace walstream::proto
