#include "proto/record_decoder.h"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace walstream::proto {

namespace {

// A whole payload's buffer grows with the bytes that actually arrive, so a header announcing a
// large (but permitted) size costs no memory until the data is there.
constexpr size_t kInitialPayloadReserve = size_t{1} << 20;

}  // namespace

RecordDecoder::RecordDecoder(RecordDecoderOptions options) : options_(options) {}

void RecordDecoder::feed(std::span<const uint8_t> bytes) {
  if (failed()) return;
  if (!input_.empty()) {
    throw std::logic_error("RecordDecoder::feed before the previous input was consumed");
  }
  input_ = bytes;
}

std::span<const uint8_t> RecordDecoder::consume(size_t n) {
  std::span<const uint8_t> taken = input_.first(n);
  input_ = input_.subspan(n);
  offset_ += n;
  return taken;
}

DecodeEvent RecordDecoder::fail(StreamStatus status) {
  error_ = std::move(status);
  input_ = {};
  chunk_ = {};
  return DecodeEvent::kError;
}

DecodeEvent RecordDecoder::next() {
  if (failed()) return DecodeEvent::kError;
  chunk_ = {};
  switch (state_) {
    case State::kHeader: {
      const size_t n = std::min(kStreamRecordHeaderSize - headerFill_, input_.size());
      std::span<const uint8_t> got = consume(n);
      std::copy(got.begin(), got.end(), headerBytes_.begin() + headerFill_);
      headerFill_ += n;
      if (headerFill_ < kStreamRecordHeaderSize) return DecodeEvent::kNeedInput;
      headerFill_ = 0;
      return onHeaderComplete();
    }
    case State::kWholePayload: {
      const size_t n = static_cast<size_t>(std::min<uint64_t>(payloadRemaining_, input_.size()));
      std::span<const uint8_t> got = consume(n);
      record_.payload.insert(record_.payload.end(), got.begin(), got.end());
      payloadRemaining_ -= n;
      if (payloadRemaining_ != 0) return DecodeEvent::kNeedInput;
      state_ = State::kHeader;
      return DecodeEvent::kRecord;
    }
    case State::kChunkedPayload: {
      if (input_.empty()) return DecodeEvent::kNeedInput;
      const size_t n = static_cast<size_t>(std::min<uint64_t>(payloadRemaining_, input_.size()));
      chunkOffset_ = offset_;
      chunk_ = consume(n);
      payloadRemaining_ -= n;
      if (payloadRemaining_ == 0) state_ = State::kChunkedEnd;
      return DecodeEvent::kPayloadChunk;
    }
    case State::kChunkedEnd:
      state_ = State::kHeader;
      return DecodeEvent::kRecordEnd;
  }
  return DecodeEvent::kNeedInput;
}

DecodeEvent RecordDecoder::onHeaderComplete() {
  recordOffset_ = offset_ - kStreamRecordHeaderSize;
  header_ = StreamRecordHeader::decode(headerBytes_.data());
  if (StreamStatus s = checkRecordHeader(header_, recordOffset_, options_.limits); !s.ok()) {
    return fail(std::move(s));
  }
  payloadRemaining_ = header_.size;
  PayloadDelivery delivery = PayloadDelivery::kWhole;  // an index end has no payload
  if (header_.type == static_cast<uint32_t>(RecordType::kSnapshot)) {
    delivery = options_.snapshotDelivery;
  } else if (header_.type == static_cast<uint32_t>(RecordType::kWalSegment)) {
    delivery = options_.walSegmentDelivery;
  } else if (header_.type == static_cast<uint32_t>(RecordType::kHeartbeat)) {
    delivery = options_.heartbeatDelivery;
  }
  if (delivery == PayloadDelivery::kChunked) {
    state_ = header_.size == 0 ? State::kChunkedEnd : State::kChunkedPayload;
    return DecodeEvent::kRecordBegin;
  }
  record_.header = header_;
  record_.streamOffset = recordOffset_;
  record_.payload.clear();
  record_.payload.reserve(
      static_cast<size_t>(std::min<uint64_t>(header_.size, kInitialPayloadReserve)));
  state_ = State::kWholePayload;
  // A zero-size record completes here; otherwise this takes what the current input holds.
  return next();
}

StreamStatus RecordDecoder::finish() const {
  if (failed()) return error_;
  if (!input_.empty()) {
    throw std::logic_error("RecordDecoder::finish before the fed input was consumed");
  }
  const std::string at = " of the record at stream offset ";
  switch (state_) {
    case State::kHeader:
      if (headerFill_ == 0) return StreamStatus::success();
      return StreamStatus::failure(offset_, "stream truncated: " + std::to_string(headerFill_) +
                                                " of the 40 header bytes" + at +
                                                std::to_string(offset_ - headerFill_));
    case State::kWholePayload:
    case State::kChunkedPayload:
      return StreamStatus::failure(
          offset_, "stream truncated: " + std::to_string(header_.size - payloadRemaining_) +
                       " of the " + std::to_string(header_.size) + " payload bytes" + at +
                       std::to_string(recordOffset_) + " (" + recordTypeName(header_.type) + ")");
    case State::kChunkedEnd:
      throw std::logic_error("RecordDecoder::finish before kRecordEnd was taken");
  }
  return StreamStatus::success();
}

}  // namespace walstream::proto
