// Reusable memory for bytes read from a store: uninitialised (a restore overwrites every byte
// it reads into) and kept across uses, so that gigabytes pass through a few buffers.
//
// The memory is mapped from the kernel directly rather than taken from malloc: buffers of
// hundreds of KiB to MiBs, allocated by several reader threads and freed by another, would
// otherwise stay in per-thread malloc arenas after they are freed, and a restore's resident
// memory would grow well past what it holds (70 MiB for a 16 MiB budget, measured). Freed, a
// buffer goes back to the kernel at once.
#pragma once

#include <cstddef>
#include <span>

namespace walstream::backup {

class FetchBuffer {
 public:
  FetchBuffer() = default;
  ~FetchBuffer();
  FetchBuffer(FetchBuffer&& other) noexcept;
  FetchBuffer& operator=(FetchBuffer&& other) noexcept;
  FetchBuffer(const FetchBuffer&) = delete;
  FetchBuffer& operator=(const FetchBuffer&) = delete;

  static constexpr size_t kMinCapacity = size_t{64} << 10;

  // Makes the buffer `n` bytes long and returns them. Their contents are unspecified when the
  // buffer grows; an existing mapping is reused when it is large enough, and a new one is the
  // next power of two. Throws SystemError when the memory cannot be mapped.
  std::span<char> resize(size_t n);

  std::span<const char> bytes() const { return {data_, size_}; }
  std::span<char> bytes() { return {data_, size_}; }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }

 private:
  void release();

  char* data_ = nullptr;
  size_t capacity_ = 0;  // of the mapping
  size_t size_ = 0;
};

}  // namespace walstream::backup
