// The body of one ranged GET (`Range: bytes=OFFSET-LAST`, s3_store.h), taken as it arrives
// straight into memory the caller owns, and checked to be the range that was asked for:
//   - 206 must carry `Content-Range: bytes OFFSET-END/TOTAL` with END inside the range asked
//     for, and a body of exactly END - OFFSET + 1 bytes;
//   - 200 is a server that ignored Range and sends the whole object: the bytes before OFFSET
//     are discarded as they arrive and the transfer is stopped once the range is in, so no more
//     than the range (plus one buffer of curl's) is ever held or downloaded;
//   - any other 2xx is refused.
// A refused reply is a StorageError(kPermanent) from finish(): a server that answers a range
// with another will do so again.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace walstream::storage {

struct S3Reply;

class S3RangeBody {
 public:
  // Into `out`: the range is out.size() bytes from `offset`.
  S3RangeBody(uint64_t offset, std::span<char> out);
  // Appended to `out` (cleared first): the range is up to `maxBytes` bytes from `offset`.
  S3RangeBody(uint64_t offset, uint64_t maxBytes, std::string& out);

  // Forgets what an earlier attempt of the request received.
  void restart();
  // Takes the next bytes of a 2xx reply (whose status line and headers are in `reply`). False
  // stops the transfer: the range is in, or the reply is refused.
  bool take(const S3Reply& reply, std::string_view bytes);
  // True once take() stopped the transfer (curl then reports a write error, which is none).
  bool stopped() const { return stopped_; }
  // After the transfer of a 2xx reply: how many bytes of the range arrived (fewer than asked
  // only at the object's end). Throws StorageError(kPermanent), `what` first, for a refused
  // reply.
  uint64_t finish(const S3Reply& reply, std::string_view what);

 private:
  // Checks the status and Content-Range of `reply` once, before its first byte is taken.
  void check(const S3Reply& reply);
  bool stop();
  void keep(std::string_view bytes);

  const uint64_t offset_;
  const uint64_t length_;  // of the range asked for
  std::span<char> buffer_;
  std::string* growing_ = nullptr;  // instead of buffer_
  bool checked_ = false;
  bool stopped_ = false;
  uint64_t announced_ = 0;  // a 206's range length, by its Content-Range
  uint64_t skipped_ = 0;    // of a 200's body, before offset_
  uint64_t received_ = 0;   // of the range
  std::string refusal_;
};

}  // namespace walstream::storage
