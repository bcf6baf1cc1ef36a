// The payloads of the backup objects' skippable frames (docs/backup.md §3, §4): an 8-byte magic
// naming the kind and version, big-endian fields, then an FNV-1a 64 of every byte before it.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace walstream::backup {

inline constexpr size_t kPayloadSumSize = 8;

class PayloadWriter {
 public:
  explicit PayloadWriter(std::string_view magic) : bytes_(magic) {}
  void u8(uint8_t v) { bytes_.push_back(static_cast<char>(v)); }
  void u32(uint32_t v);
  void u64(uint64_t v);
  // The fields written, then their sum.
  std::string finish() &&;

 private:
  std::string bytes_;
};

// Reads fields front to back. Every read checks the bytes left before it, so that nothing read
// is trusted further than the bytes that are really there; errors are Error("<what>: ...")
// naming the field.
class PayloadReader {
 public:
  // `payload` includes its magic and its trailing sum. Checks the magic first, so that a payload
  // of another kind is named as such, then the sum, so that no field of a damaged payload is
  // believed.
  PayloadReader(std::span<const uint8_t> payload, std::string what, std::string_view magic);

  uint8_t u8(std::string_view field);
  uint32_t u32(std::string_view field);
  uint64_t u64(std::string_view field);
  int64_t i64(std::string_view field) { return static_cast<int64_t>(u64(field)); }
  std::span<const uint8_t> bytes(size_t n, std::string_view field);
  size_t remaining() const { return fields_.size() - at_; }  // bytes before the sum

  [[noreturn]] void fail(const std::string& message) const;  // throws Error("<what>: message")
  const std::string& what() const { return what_; }

 private:
  std::span<const uint8_t> fields_;  // the payload without its sum
  size_t at_ = 0;
  std::string what_;
};

}  // namespace walstream::backup
