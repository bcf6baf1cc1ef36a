#include "storage/s3_range_body.h"

#include <algorithm>
#include <charconv>
#include <cstring>

#include "core/printable_text.h"
#include "storage/object_store.h"
#include "storage/s3_http.h"

namespace walstream::storage {

namespace {

// The last byte a range of `length` bytes from `offset` can name.
uint64_t lastOf(uint64_t offset, uint64_t length) {
  return length > UINT64_MAX - offset ? UINT64_MAX - 1 : offset + length - 1;
}

// A decimal number that fills `text`, or false.
bool parseNumber(std::string_view text, uint64_t& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

}  // namespace

S3RangeBody::S3RangeBody(uint64_t offset, std::span<char> out)
    : offset_(offset), length_(out.size()), buffer_(out) {}

S3RangeBody::S3RangeBody(uint64_t offset, uint64_t maxBytes, std::string& out)
    : offset_(offset), length_(std::min(maxBytes, UINT64_MAX - offset)), growing_(&out) {
  out.clear();
}

void S3RangeBody::restart() {
  checked_ = stopped_ = false;
  announced_ = skipped_ = received_ = 0;
  refusal_.clear();
  if (growing_) growing_->clear();
}

void S3RangeBody::check(const S3Reply& reply) {
  checked_ = true;
  if (reply.status == 200) return;
  if (reply.status != 206) {
    refusal_ = "HTTP " + std::to_string(reply.status) + " is no answer to a ranged GET";
    return;
  }
  // "bytes START-END/TOTAL" (TOTAL may be "*").
  const std::string_view range = reply.contentRange;
  const std::string asked =
      std::to_string(offset_) + "-" + std::to_string(lastOf(offset_, length_));
  const size_t dash = range.find('-'), slash = range.find('/');
  uint64_t start = 0, end = 0;
  if (range.substr(0, 6) != "bytes " || dash == std::string_view::npos ||
      slash == std::string_view::npos || slash < dash ||
      !parseNumber(range.substr(6, dash - 6), start) ||
      !parseNumber(range.substr(dash + 1, slash - dash - 1), end)) {
    refusal_ = "HTTP 206 for bytes " + asked + " with Content-Range \"" +
               printableText(range, 128) + "\", which names no range";
  } else if (start != offset_ || end < start || end > lastOf(offset_, length_)) {
    refusal_ = "HTTP 206 for bytes " + asked + " sent bytes " + std::to_string(start) + "-" +
               std::to_string(end) + " (the server does not honour Range)";
  } else {
    announced_ = end - start + 1;
  }
}

bool S3RangeBody::stop() {
  stopped_ = true;
  return false;
}

void S3RangeBody::keep(std::string_view bytes) {
  if (growing_) {
    growing_->append(bytes);
  } else if (!bytes.empty()) {
    std::memcpy(buffer_.data() + received_, bytes.data(), bytes.size());
  }
  received_ += bytes.size();
}

bool S3RangeBody::take(const S3Reply& reply, std::string_view bytes) {
  if (!checked_) check(reply);
  if (!refusal_.empty()) return stop();
  if (reply.status == 200) {
    const uint64_t skip = std::min<uint64_t>(bytes.size(), offset_ - skipped_);
    skipped_ += skip;
    bytes.remove_prefix(skip);
    const uint64_t room = length_ - received_;
    keep(bytes.substr(0, std::min<uint64_t>(room, bytes.size())));
    // Past the range: the rest of the object is not wanted.
    return bytes.size() <= room ? true : stop();
  }
  if (bytes.size() > announced_ - received_) {
    refusal_ = "HTTP 206 sent more than the " + std::to_string(announced_) +
               " bytes its Content-Range announced";
    return stop();
  }
  keep(bytes);
  return true;
}

uint64_t S3RangeBody::finish(const S3Reply& reply, std::string_view what) {
  if (!checked_) check(reply);
  if (refusal_.empty() && reply.status == 206 && received_ != announced_) {
    refusal_ = "HTTP 206 sent " + std::to_string(received_) + " of the " +
               std::to_string(announced_) + " bytes its Content-Range announced";
  }
  if (!refusal_.empty()) {
    throw StorageError(StorageError::Kind::kPermanent, std::string(what) + ": " + refusal_);
  }
  return received_;
}

}  // namespace walstream::storage
