// FNV-1a, 64-bit: the sum that ends the backup objects' index and header payloads
// (docs/backup.md §3, §4). It detects damage (a flipped bit, a torn or truncated write), not
// tampering.
#pragma once

#include <cstdint>
#include <span>

namespace walstream::backup {

uint64_t fnv1a64(std::span<const uint8_t> bytes);

}  // namespace walstream::backup
