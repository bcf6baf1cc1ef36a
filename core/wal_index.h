// The wal-index (-shm) header region, as SQLite lays it out (docs/sqlite-wal.md §3).
//
// The -shm is an array of 32 KiB blocks mapped MAP_SHARED by every connection. Block 0 begins
// with two copies of the 48-byte WalIndexHeader (bytes 0 and 48), then WalCkptInfo (byte 96):
//   96 nBackfill  100 aReadMark[5]  120 aLock[8] (lock bytes, never read or written)
//   128 nBackfillAttempted  132 unused
// All integers are host order, except aSalt, which is a raw copy of WAL header bytes 16..23.
//
// Publishing (writer, holding WAL_WRITE_LOCK): copy 1 at byte 48, full fence, copy 0 at byte 0.
// Reading: copy 0, full fence, copy 1; accept only if both are byte-identical, isInit != 0 and
// the checksum (walChecksum of bytes 0..39 in host word order) verifies. Because the two copies
// are written and read in opposite orders, a reader overlapping a write sees them differ.
//
// This code assumes a little-endian host (as SQLite's default WAL magic on x86-64 and arm64).
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <optional>

#include "core/file_util.h"
#include "core/wal_format.h"

namespace walstream {

static_assert(std::endian::native == std::endian::little, "the wal-index code assumes LE hosts");

inline constexpr size_t kShmBlockSize = 32768;
inline constexpr size_t kWalIndexHeaderSize = 48;
inline constexpr uint32_t kReadMarkUnused = 0xffffffff;

// -shm lock bytes (OFD or POSIX byte-range locks; their contents are never touched).
inline constexpr off_t kShmWriteLock = 120;
inline constexpr off_t kShmCheckpointLock = 121;
inline constexpr off_t kShmRecoverLock = 122;
inline constexpr off_t kShmReadLock0 = 123;  // READ_LOCK(i) is 123 + i, i = 0..4
inline constexpr off_t kShmDmsLock = 128;

struct WalIndexHeader {
  uint32_t version = kWalVersion;  // iVersion
  uint32_t unused = 0;
  uint32_t change = 0;  // iChange: +1 on every commit
  uint8_t isInit = 0;
  uint8_t bigEndianChecksum = 0;
  uint16_t pageSizeCode = 0;      // szPage: 65536 stored as 1
  uint32_t mxFrame = 0;           // last frame of the last committed transaction
  uint32_t nPage = 0;             // database size in pages at mxFrame
  Checksum frameChecksum;         // aFrameCksum: running checksum after frame mxFrame
  std::array<uint8_t, 8> salt{};  // aSalt: WAL header bytes 16..23 (big-endian salts)
  Checksum checksum;              // aCksum over bytes 0..39

  uint32_t pageSize() const { return (pageSizeCode & 0xfe00u) + ((pageSizeCode & 1u) << 16); }
  void setPageSize(uint32_t p) { pageSizeCode = static_cast<uint16_t>((p & 0xff00u) | (p >> 16)); }
  uint32_t salt1() const;
  uint32_t salt2() const;

  // Encodes with a freshly computed checksum (also stored into `checksum`).
  std::array<uint8_t, kWalIndexHeaderSize> encode();
  // Decodes 48 bytes; nullopt if isInit is 0 or the checksum does not verify.
  static std::optional<WalIndexHeader> decode(const uint8_t* bytes);

  friend bool operator==(const WalIndexHeader&, const WalIndexHeader&) = default;
};

// A MAP_SHARED mapping of some blocks of a -shm file. The fd is borrowed and must outlive it.
class ShmMapping {
 public:
  ShmMapping() = default;
  ShmMapping(int fd, size_t offset, size_t length, bool writable, const std::string& path);
  ShmMapping(ShmMapping&& o) noexcept;
  ShmMapping& operator=(ShmMapping&& o) noexcept;
  ShmMapping(const ShmMapping&) = delete;
  ShmMapping& operator=(const ShmMapping&) = delete;
  ~ShmMapping();

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool valid() const { return data_ != nullptr; }

 private:
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
};

// Reads the header with SQLite's double-copy protocol from block 0 of a mapping.
// nullopt when the copies differ, isInit is 0 or the checksum fails (a writer is mid-publish,
// or recovery is needed).
std::optional<WalIndexHeader> readWalIndexHeader(const uint8_t* block0);

// Publishes `h` (encoded with a new checksum): copy 1, full fence, copy 0. The caller must hold
// WAL_WRITE_LOCK.
void publishWalIndexHeader(uint8_t* block0, WalIndexHeader h);

// Relaxed atomic accessors for the WalCkptInfo fields and other u32/u16 words of the mapping.
uint32_t shmLoad32(const uint8_t* base, size_t offset);
void shmStore32(uint8_t* base, size_t offset, uint32_t v);
uint16_t shmLoad16(const uint8_t* base, size_t offset);
void shmStore16(uint8_t* base, size_t offset, uint16_t v);

inline uint32_t shmBackfill(const uint8_t* block0) {
  return shmLoad32(block0, 96);
}
inline uint32_t shmReadMark(const uint8_t* block0, int i) {
  return shmLoad32(block0, 100 + 4 * i);
}

}  // namespace walstream
