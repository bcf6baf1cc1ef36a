// The outcome of decoding or checking a /stream body.
//
// Failures in proto are values, not exceptions, so that a network client can turn them into a
// log line and a reconnect at its own pace. A failure carries the reason and the stream offset of
// the first byte found wrong, counted from the first byte of the response body; for a truncated
// stream that is the offset just past the last byte received.
#pragma once

#include <cstdint>
#include <string>

namespace walstream::proto {

class [[nodiscard]] StreamStatus {
 public:
  static StreamStatus success() { return StreamStatus(); }
  static StreamStatus failure(uint64_t streamOffset, std::string reason) {
    StreamStatus s;
    s.failed_ = true;
    s.streamOffset_ = streamOffset;
    s.reason_ = std::move(reason);
    return s;
  }

  bool ok() const { return !failed_; }
  uint64_t streamOffset() const { return streamOffset_; }  // meaningful only when !ok()
  const std::string& reason() const { return reason_; }
  // "<reason> at stream offset N"; "ok" for a success.
  std::string message() const {
    return failed_ ? reason_ + " at stream offset " + std::to_string(streamOffset_) : "ok";
  }

 private:
  StreamStatus() = default;

  bool failed_ = false;
  uint64_t streamOffset_ = 0;
  std::string reason_;
};

}  // namespace walstream::proto
