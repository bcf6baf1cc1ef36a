#include "tests/support/stream_replay.h"
#include "tests/support/time_scale.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <stdexcept>

#include "core/error.h"
#include "core/file_util.h"
#include "core/lz4_codec.h"
#include "core/pos.h"
#include "server/capture/shadow_wal.h"
#include "tests/support/shadow_replay.h"

namespace walstream::test {

namespace {

constexpr std::chrono::milliseconds kPayloadTimeout{30000};

}  // namespace

std::optional<proto::StreamRecordHeader> readRecordHeader(HttpStream& stream,
                                                          std::chrono::milliseconds timeout) {
  auto head = stream.readExact(proto::kStreamRecordHeaderSize, timeout);
  if (!head) return std::nullopt;
  return proto::StreamRecordHeader::decode(reinterpret_cast<const uint8_t*>(head->data()));
}

std::optional<StreamRecord> readRecord(HttpStream& stream, std::chrono::milliseconds timeout) {
  auto header = readRecordHeader(stream, timeout);
  if (!header) return std::nullopt;
  StreamRecord r;
  r.header = *header;
  if (r.header.size > 0) {
    // Once a header arrived its payload is on its way: a large one (a snapshot) can take far
    // longer than a short wait for the next record on a loaded machine.
    auto payload = stream.readExact(r.header.size,
                                    std::max<std::chrono::milliseconds>(timeout, kPayloadTimeout));
    if (!payload) {
      throw std::runtime_error("stream ended or stalled inside a " +
                               std::string(proto::recordTypeName(r.header.type)) + " record of " +
                               std::to_string(r.header.size) + " bytes");
    }
    r.payload = std::move(*payload);
  }
  return r;
}

Pos segmentEnd(const StreamRecord& record) {
  const std::string raw = lz4Decompress(asBytes(record.payload), kMaxWalSegmentBytes);
  Pos p = record.header.pos();
  p.offset += raw.size();
  return p;
}

WalChainState chainStateFromShadow(const std::string& shadowRoot, const Pos& pos) {
  ShadowWal shadow(shadowRoot);
  WalChainState state;
  uint64_t end = 0;
  for (const auto& s : shadow.listSegments(pos.generation, pos.index)) {
    if (s.pos.offset >= pos.offset) break;
    if (s.pos.offset != end) throw std::runtime_error("shadow WAL gap before " + s.pos.str());
    const std::string raw = lz4Decompress(asBytes(shadow.readSegmentData(s)), kMaxWalSegmentBytes);
    parseWalSegment(asBytes(raw), s.pos.offset, state);
    end = s.pos.offset + raw.size();
  }
  if (end != pos.offset) {
    throw std::runtime_error("no shadow WAL segment ends at " + pos.str());
  }
  return state;
}

StreamReplay::StreamReplay(std::string imagePath, std::string shadowRoot)
    : image_(std::move(imagePath)), shadowRoot_(std::move(shadowRoot)) {}

void StreamReplay::apply(const StreamRecord& r) {
  const auto type = static_cast<proto::RecordType>(r.header.type);
  if (type == proto::RecordType::kHeartbeat) {
    if (r.payload.size() != 16) throw std::runtime_error("heartbeat payload is not 16 bytes");
    ++heartbeats_;
    return;
  }
  if (type == proto::RecordType::kSnapshot) {
    std::string image = r.payload;
    if (r.header.flags & proto::kFlagCompressed) {
      image = lz4Decompress(asBytes(r.payload), kMaxWalSegmentBytes);
    }
    writeFileAtomic(image_, image);
    pos_ = r.header.pos();
    pageSize_ =
        image.size() >= 100
            ? (uint32_t{static_cast<uint8_t>(image[16])} << 8 | static_cast<uint8_t>(image[17]))
            : 0;
    if (pageSize_ == 1) pageSize_ = 65536;
    chain_ = pos_.offset == 0 ? WalChainState{} : chainStateFromShadow(shadowRoot_, pos_);
    ++snapshots_;
    return;
  }
  if (type != proto::RecordType::kWalSegment) {
    throw std::runtime_error("unknown record type " + std::to_string(r.header.type));
  }
  if (pos_.empty()) throw std::runtime_error("a WAL segment arrived before any snapshot");
  const Pos at = r.header.pos();
  if (!segmentMayFollow(pos_, at)) {
    throw std::runtime_error("segment at " + at.str() + " does not continue position " +
                             pos_.str());
  }
  const std::string raw = lz4Decompress(asBytes(r.payload), kMaxWalSegmentBytes);
  ParsedWalSegment seg = parseWalSegment(asBytes(raw), at.offset, chain_);
  if (seg.header) pageSize_ = seg.header->pageSize;
  UniqueFd fd = openFile(image_, O_RDWR);
  for (const WalTransaction& t : seg.transactions) {
    for (const WalFrameView& f : t.frames) {
      pwriteFull(fd.get(), f.page.data(), f.page.size(),
                 uint64_t{f.header.pageNumber - 1} * pageSize_, image_);
    }
    if (::ftruncate(fd.get(), static_cast<off_t>(uint64_t{t.commitSize()} * pageSize_)) != 0) {
      throwErrno("cannot truncate", image_);
    }
  }
  pos_ = {at.generation, at.index, seg.endOffset};
  ++segments_;
}

std::string StreamReplay::dump() const {
  const std::string copy = image_ + ".check";
  for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((copy + suffix).c_str());
  std::filesystem::copy_file(image_, copy);
  std::string out = dumpDatabase(copy);
  for (const char* suffix : {"", "-wal", "-shm"}) ::unlink((copy + suffix).c_str());
  return out;
}

bool replayUntilEqual(HttpStream& stream, StreamReplay& replay, const std::string& primaryDb,
                      std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
  const std::string want = dumpDatabase(primaryDb);
  for (;;) {
    if (!replay.position().empty() && replay.dump() == want) return true;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    auto r = readRecord(stream, left);
    if (!r) return false;
    replay.apply(*r);
  }
}

}  // namespace walstream::test
