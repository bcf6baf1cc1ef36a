#include "core/wal_index.h"

#include <sys/mman.h>

#include <atomic>
#include <cstring>

#include "core/byte_order.h"
#include "core/error.h"

namespace walstream {

namespace {

void put32(uint8_t* p, uint32_t v) {
  std::memcpy(p, &v, 4);
}
uint32_t get32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Copies n bytes (a multiple of 4, 4-aligned) out of shared memory, one relaxed atomic word at
// a time: other processes write this memory concurrently.
void loadWords(uint8_t* dst, const uint8_t* src, size_t n) {
  for (size_t i = 0; i < n; i += 4) put32(dst + i, shmLoad32(src, i));
}
void storeWords(uint8_t* dst, const uint8_t* src, size_t n) {
  for (size_t i = 0; i < n; i += 4) shmStore32(dst, i, get32(src + i));
}

}  // namespace

uint32_t WalIndexHeader::salt1() const {
  return loadBE32(salt.data());
}
uint32_t WalIndexHeader::salt2() const {
  return loadBE32(salt.data() + 4);
}

std::array<uint8_t, kWalIndexHeaderSize> WalIndexHeader::encode() {
  std::array<uint8_t, kWalIndexHeaderSize> b{};
  put32(&b[0], version);
  put32(&b[4], unused);
  put32(&b[8], change);
  b[12] = isInit;
  b[13] = bigEndianChecksum;
  std::memcpy(&b[14], &pageSizeCode, 2);
  put32(&b[16], mxFrame);
  put32(&b[20], nPage);
  put32(&b[24], frameChecksum.s0);
  put32(&b[28], frameChecksum.s1);
  std::memcpy(&b[32], salt.data(), 8);
  checksum = walChecksum(b.data(), 40, /*bigEndianWords=*/false, {});
  put32(&b[40], checksum.s0);
  put32(&b[44], checksum.s1);
  return b;
}

std::optional<WalIndexHeader> WalIndexHeader::decode(const uint8_t* b) {
  WalIndexHeader h;
  h.version = get32(b);
  h.unused = get32(b + 4);
  h.change = get32(b + 8);
  h.isInit = b[12];
  h.bigEndianChecksum = b[13];
  std::memcpy(&h.pageSizeCode, b + 14, 2);
  h.mxFrame = get32(b + 16);
  h.nPage = get32(b + 20);
  h.frameChecksum = {get32(b + 24), get32(b + 28)};
  std::memcpy(h.salt.data(), b + 32, 8);
  h.checksum = {get32(b + 40), get32(b + 44)};
  if (h.isInit == 0) return std::nullopt;
  if (walChecksum(b, 40, false, {}) != h.checksum) return std::nullopt;
  return h;
}

std::optional<WalIndexHeader> readWalIndexHeader(const uint8_t* block0) {
  uint8_t copy0[kWalIndexHeaderSize];
  uint8_t copy1[kWalIndexHeaderSize];
  loadWords(copy0, block0, kWalIndexHeaderSize);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  loadWords(copy1, block0 + kWalIndexHeaderSize, kWalIndexHeaderSize);
  // Pairs with the fence at the start of publishWalIndexHeader: hash-table entries read after
  // this header are at least as new as the header.
  std::atomic_thread_fence(std::memory_order_acquire);
  if (std::memcmp(copy0, copy1, kWalIndexHeaderSize) != 0) return std::nullopt;
  return WalIndexHeader::decode(copy0);
}

void publishWalIndexHeader(uint8_t* block0, WalIndexHeader h) {
  h.isInit = 1;
  h.version = kWalVersion;
  auto bytes = h.encode();
  // Everything stored before (frames' hash-table entries) becomes visible no later than the
  // header that covers it, also on weakly ordered CPUs.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  storeWords(block0 + kWalIndexHeaderSize, bytes.data(), kWalIndexHeaderSize);
  std::atomic_thread_fence(std::memory_order_seq_cst);
  storeWords(block0, bytes.data(), kWalIndexHeaderSize);
}

uint32_t shmLoad32(const uint8_t* base, size_t offset) {
  auto* p = reinterpret_cast<uint32_t*>(const_cast<uint8_t*>(base + offset));
  return std::atomic_ref<uint32_t>(*p).load(std::memory_order_relaxed);
}

void shmStore32(uint8_t* base, size_t offset, uint32_t v) {
  auto* p = reinterpret_cast<uint32_t*>(base + offset);
  std::atomic_ref<uint32_t>(*p).store(v, std::memory_order_relaxed);
}

uint16_t shmLoad16(const uint8_t* base, size_t offset) {
  auto* p = reinterpret_cast<uint16_t*>(const_cast<uint8_t*>(base + offset));
  return std::atomic_ref<uint16_t>(*p).load(std::memory_order_relaxed);
}

void shmStore16(uint8_t* base, size_t offset, uint16_t v) {
  auto* p = reinterpret_cast<uint16_t*>(base + offset);
  std::atomic_ref<uint16_t>(*p).store(v, std::memory_order_relaxed);
}

ShmMapping::ShmMapping(int fd, size_t offset, size_t length, bool writable,
                       const std::string& path) {
  int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  void* p = ::mmap(nullptr, length, prot, MAP_SHARED, fd, static_cast<off_t>(offset));
  if (p == MAP_FAILED) throwErrno("cannot map " + std::to_string(length) + " bytes of", path);
  data_ = static_cast<uint8_t*>(p);
  size_ = length;
}

ShmMapping::ShmMapping(ShmMapping&& o) noexcept : data_(o.data_), size_(o.size_) {
  o.data_ = nullptr;
  o.size_ = 0;
}

ShmMapping& ShmMapping::operator=(ShmMapping&& o) noexcept {
  if (this != &o) {
    if (data_) ::munmap(data_, size_);
    data_ = o.data_;
    size_ = o.size_;
    o.data_ = nullptr;
    o.size_ = 0;
  }
  return *this;
}

ShmMapping::~ShmMapping() {
  if (data_) ::munmap(data_, size_);
}

}  // namespace walstream
