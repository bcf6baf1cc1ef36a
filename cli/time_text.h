// Wall-clock times on the command line: RFC 3339, as logs and listings print them.
#pragma once

#include <cstdint>
#include <string>

namespace walstream::cli {

// "2026-12-07T07:50:00Z", "2026-12-07T07:50:00.123Z", "2026-12-07T08:50:00+01:00" → Unix ms.
// Throws std::invalid_argument on anything else.
int64_t parseRfc3339Ms(const std::string& text);

// Unix ms → "2026-12-07T07:50:00.123Z".
std::string formatRfc3339Ms(int64_t ms);

}  // namespace walstream::cli
