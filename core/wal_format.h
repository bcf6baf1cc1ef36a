// The SQLite WAL file format (docs/sqlite-wal.md §2).
//
// File:   a 32-byte header, then frames; frame F (1-based) starts at 32 + (F-1)*(P+24).
// Header: eight big-endian u32: magic, version (3007000), page size P, checkpoint sequence,
//         salt-1, salt-2, checksum-1, checksum-2 (walChecksum of bytes 0..23 from seed (0,0)).
// Frame:  a 24-byte header of six big-endian u32 (page number, commit size or 0, salt-1, salt-2,
//         checksum-1, checksum-2), then P bytes of page image. A non-zero commit size marks the
//         last frame of a transaction and gives the database size in pages after it.
// Chain:  frame 1 is seeded with the header checksum, frame F with frame F-1's; each frame hashes
//         its header bytes 0..7 and then the page. Salts are compared, never hashed.
// Byte order of checksum input words: bit 0 of the magic (1 = big-endian). Stored checksums are
// always big-endian.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace walstream {

inline constexpr uint32_t kWalMagic = 0x377f0682;  // little-endian checksum words
inline constexpr uint32_t kWalVersion = 3007000;
inline constexpr size_t kWalHeaderSize = 32;
inline constexpr size_t kWalFrameHeaderSize = 24;

struct Checksum {
  uint32_t s0 = 0;
  uint32_t s1 = 0;
  friend bool operator==(const Checksum&, const Checksum&) = default;
};

// SQLite's WAL checksum over n bytes (n a multiple of 8), continuing from `seed`.
Checksum walChecksum(const uint8_t* data, size_t n, bool bigEndianWords, Checksum seed);

inline bool isValidPageSize(uint32_t p) {
  return p >= 512 && p <= 65536 && (p & (p - 1)) == 0;
}

inline uint64_t walFrameOffset(uint64_t frame, uint32_t pageSize) {
  return kWalHeaderSize + (frame - 1) * (uint64_t{pageSize} + kWalFrameHeaderSize);
}

struct WalHeader {
  uint32_t magic = kWalMagic;
  uint32_t version = kWalVersion;
  uint32_t pageSize = 0;
  uint32_t checkpointSeq = 0;
  uint32_t salt1 = 0;
  uint32_t salt2 = 0;
  Checksum checksum;  // as stored; encode() recomputes it

  bool bigEndianChecksum() const { return (magic & 1) != 0; }

  // Decodes and validates as SQLite's recovery does: magic, power-of-two page size, header
  // checksum. nullopt when any fails (SQLite then treats the WAL as empty). The version is
  // returned as stored for the caller to reject.
  static std::optional<WalHeader> decode(std::span<const uint8_t> bytes);

  // Encodes with a freshly computed checksum (which is also stored back into `checksum`).
  std::array<uint8_t, kWalHeaderSize> encode();
};

struct WalFrameHeader {
  uint32_t pageNumber = 0;
  uint32_t commitSize = 0;  // "nTruncate": database size in pages after a commit frame, else 0
  uint32_t salt1 = 0;
  uint32_t salt2 = 0;
  Checksum checksum;

  bool isCommit() const { return commitSize != 0; }
  static WalFrameHeader decode(const uint8_t* bytes);  // 24 bytes, no validation
  void encode(uint8_t* out) const;                     // 24 bytes
};

}  // namespace walstream
