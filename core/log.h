// Log lines for people: "2026-11-22T10:15:02.123Z INFO app.db: message", one write(2) per line
// to stderr so lines from different threads never interleave.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

namespace walstream {

// "2026-11-22T10:15:02.123Z": UTC, millisecond precision (RFC 3339).
std::string formatRfc3339(std::chrono::system_clock::time_point t);

}  // namespace walstream

namespace walstream::log {

void info(std::string_view message);
void warn(std::string_view message);
void error(std::string_view message);

}  // namespace walstream::log
