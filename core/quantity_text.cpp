#include "core/quantity_text.h"

#include <charconv>
#include <limits>

namespace walstream {

std::chrono::milliseconds parseDuration(const std::string& text) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p == text.data()) throw std::invalid_argument(text);
  const std::string unit(p, text.data() + text.size());
  uint64_t msPerUnit = 0;
  if (unit == "ms")
    msPerUnit = 1;
  else if (unit == "s")
    msPerUnit = 1000;
  else if (unit == "m")
    msPerUnit = 60'000;
  else if (unit == "h")
    msPerUnit = 3'600'000;
  else if (unit.empty() && n == 0)
    msPerUnit = 1;
  else
    throw std::invalid_argument(text);
  constexpr uint64_t kMaxMs = static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
  if (n > kMaxMs / msPerUnit) throw std::invalid_argument(text);
  return std::chrono::milliseconds(n * msPerUnit);
}

uint64_t parseByteSize(const std::string& text) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p == text.data()) throw std::invalid_argument(text);
  const std::string unit(p, text.data() + text.size());
  int shift = 0;
  if (unit.empty() || unit == "B")
    shift = 0;
  else if (unit == "KiB")
    shift = 10;
  else if (unit == "MiB")
    shift = 20;
  else if (unit == "GiB")
    shift = 30;
  else if (unit == "TiB")
    shift = 40;
  else
    throw std::invalid_argument(text);
  if (shift != 0 && n > (UINT64_MAX >> shift)) throw std::invalid_argument(text);
  return n << shift;
}

}  // namespace walstream
