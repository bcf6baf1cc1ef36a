#include "core/wal_format.h"

#include "core/byte_order.h"

namespace walstream {

Checksum walChecksum(const uint8_t* data, size_t n, bool bigEndianWords, Checksum seed) {
  uint32_t s0 = seed.s0;
  uint32_t s1 = seed.s1;
  if (bigEndianWords) {
    for (size_t i = 0; i + 8 <= n; i += 8) {
      s0 += loadBE32(data + i) + s1;
      s1 += loadBE32(data + i + 4) + s0;
    }
  } else {
    for (size_t i = 0; i + 8 <= n; i += 8) {
      s0 += loadLE32(data + i) + s1;
      s1 += loadLE32(data + i + 4) + s0;
    }
  }
  return {s0, s1};
}

std::optional<WalHeader> WalHeader::decode(std::span<const uint8_t> b) {
  if (b.size() < kWalHeaderSize) return std::nullopt;
  WalHeader h;
  h.magic = loadBE32(&b[0]);
  h.version = loadBE32(&b[4]);
  h.pageSize = loadBE32(&b[8]);
  h.checkpointSeq = loadBE32(&b[12]);
  h.salt1 = loadBE32(&b[16]);
  h.salt2 = loadBE32(&b[20]);
  h.checksum = {loadBE32(&b[24]), loadBE32(&b[28])};
  if ((h.magic & ~1u) != kWalMagic || !isValidPageSize(h.pageSize)) return std::nullopt;
  if (walChecksum(b.data(), 24, h.bigEndianChecksum(), {}) != h.checksum) return std::nullopt;
  return h;
}

std::array<uint8_t, kWalHeaderSize> WalHeader::encode() {
  std::array<uint8_t, kWalHeaderSize> out{};
  storeBE32(&out[0], magic);
  storeBE32(&out[4], version);
  storeBE32(&out[8], pageSize);
  storeBE32(&out[12], checkpointSeq);
  storeBE32(&out[16], salt1);
  storeBE32(&out[20], salt2);
  checksum = walChecksum(out.data(), 24, bigEndianChecksum(), {});
  storeBE32(&out[24], checksum.s0);
  storeBE32(&out[28], checksum.s1);
  return out;
}

WalFrameHeader WalFrameHeader::decode(const uint8_t* b) {
  WalFrameHeader h;
  h.pageNumber = loadBE32(b);
  h.commitSize = loadBE32(b + 4);
  h.salt1 = loadBE32(b + 8);
  h.salt2 = loadBE32(b + 12);
  h.checksum = {loadBE32(b + 16), loadBE32(b + 20)};
  return h;
}

void WalFrameHeader::encode(uint8_t* out) const {
  storeBE32(out, pageNumber);
  storeBE32(out + 4, commitSize);
  storeBE32(out + 8, salt1);
  storeBE32(out + 12, salt2);
  storeBE32(out + 16, checksum.s0);
  storeBE32(out + 20, checksum.s1);
}

}  // namespace walstream
