// Durations and byte sizes as people write them in flags, config files and URI parameters:
// "500ms", "10s", "1m", "2h" (a bare "0" too) and "4096", "64KiB", "512MiB", "1GiB".
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace walstream {

// Both throw std::invalid_argument for text of another form or a value that overflows.
std::chrono::milliseconds parseDuration(const std::string& text);
uint64_t parseByteSize(const std::string& text);

}  // namespace walstream
