#include "backup/fnv1a64.h"

namespace walstream::backup {

uint64_t fnv1a64(std::span<const uint8_t> bytes) {
  constexpr uint64_t kOffsetBasis = 0xcbf29ce484222325ULL;
  constexpr uint64_t kPrime = 0x100000001b3ULL;
  uint64_t h = kOffsetBasis;
  for (const uint8_t b : bytes) {
    h ^= b;
    h *= kPrime;
  }
  return h;
}

}  // namespace walstream::backup
