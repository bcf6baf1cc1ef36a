#include "backup/fetch_buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

#include "core/error.h"

namespace walstream::backup {

FetchBuffer::~FetchBuffer() {
  release();
}

FetchBuffer::FetchBuffer(FetchBuffer&& other) noexcept
    : data_(std::exchange(other.data_, nullptr)),
      capacity_(std::exchange(other.capacity_, 0)),
      size_(std::exchange(other.size_, 0)) {}

FetchBuffer& FetchBuffer::operator=(FetchBuffer&& other) noexcept {
  if (this != &other) {
    release();
    data_ = std::exchange(other.data_, nullptr);
    capacity_ = std::exchange(other.capacity_, 0);
    size_ = std::exchange(other.size_, 0);
  }
  return *this;
}

std::span<char> FetchBuffer::resize(size_t n) {
  if (n > capacity_) {
    const auto page = static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    const size_t bytes = (n + page - 1) / page * page;
    void* mapped =
        ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) {
      const int err = errno;
      throw SystemError(
          "cannot map " + std::to_string(bytes) + " bytes for a download: " + std::strerror(err),
          err);
    }
    release();
    data_ = static_cast<char*>(mapped);
    capacity_ = bytes;
  }
  size_ = n;
  return {data_, n};
}

void FetchBuffer::release() {
  if (data_ != nullptr) ::munmap(data_, capacity_);
  data_ = nullptr;
  capacity_ = 0;
  size_ = 0;
}

}  // namespace walstream::backup
