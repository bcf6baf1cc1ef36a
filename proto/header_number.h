// Numeric HTTP header values, parsed strictly: a field sent twice arrives comma-joined
// (client/http_stream.h), and "4096, 8192", " 4096", "+4096" or a value that overflows must be
// refused, never read as some prefix of it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace walstream::proto {

// 1 to 20 ASCII digits and nothing else, with a value of at most `max`; nullopt otherwise.
std::optional<uint64_t> parseHeaderNumber(std::string_view value, uint64_t max);

}  // namespace walstream::proto
