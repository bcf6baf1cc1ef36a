#include "proto/stream_record.h"

#include "core/byte_order.h"

namespace walstream::proto {

StreamRecordHeader StreamRecordHeader::of(RecordType type, const Pos& pos, uint64_t size,
                                          uint32_t flags) {
  return {static_cast<uint32_t>(type), flags, pos.generation, pos.index, pos.offset, size};
}

std::array<uint8_t, kStreamRecordHeaderSize> StreamRecordHeader::encode() const {
  std::array<uint8_t, kStreamRecordHeaderSize> b{};
  storeBE32(&b[0], type);
  storeBE32(&b[4], flags);
  storeBE64(&b[8], generation);
  storeBE64(&b[16], index);
  storeBE64(&b[24], offset);
  storeBE64(&b[32], size);
  return b;
}

StreamRecordHeader StreamRecordHeader::decode(const uint8_t* b) {
  StreamRecordHeader h;
  h.type = loadBE32(b);
  h.flags = loadBE32(b + 4);
  h.generation = loadBE64(b + 8);
  h.index = loadBE64(b + 16);
  h.offset = loadBE64(b + 24);
  h.size = loadBE64(b + 32);
  return h;
}

const char* recordTypeName(uint32_t type) {
  switch (static_cast<RecordType>(type)) {
    case RecordType::kSnapshot:
      return "snapshot";
    case RecordType::kWalSegment:
      return "wal";
    case RecordType::kHeartbeat:
      return "heartbeat";
    case RecordType::kIndexEnd:
      return "index-end";
  }
  return "unknown";
}

}  // namespace walstream::proto
