#include "tests/support/hostile_stream.h"

#include <doctest/doctest.h>
#include <lz4frame.h>

#include <regex>
#include <stdexcept>

#include "core/wal_format.h"
#include "proto/heartbeat.h"
#include "tests/support/process.h"
#include "tests/support/sqlite_fixture.h"
#include "tests/support/temp_dir.h"

namespace walstream::test {

std::string streamResponseHead(const std::string& headerLines) {
  return "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n" + headerLines +
         "Connection: close\r\n\r\n";
}

std::string streamResponseHead(uint32_t pageSize) {
  return streamResponseHead("Walstream-Page-Size: " + std::to_string(pageSize) + "\r\n");
}

std::string streamRecordHeader(proto::RecordType type, const Pos& pos, uint64_t size,
                               uint32_t flags) {
  const auto bytes = proto::StreamRecordHeader::of(type, pos, size, flags).encode();
  return std::string(bytes.begin(), bytes.end());
}

std::string streamRecord(proto::RecordType type, const Pos& pos, const std::string& payload,
                         uint32_t flags) {
  return streamRecordHeader(type, pos, payload.size(), flags) + payload;
}

std::string heartbeatRecord(const Pos& pos) {
  const auto payload = proto::HeartbeatPayload{0, Checksum{}}.encode();
  return streamRecord(proto::RecordType::kHeartbeat, pos,
                      std::string(payload.begin(), payload.end()));
}

std::string walBytes(uint32_t pageSize, const std::vector<FrameSpec>& frames) {
  WalHeader header;
  header.pageSize = pageSize;
  header.salt1 = 0x01020304;
  header.salt2 = 0x05060708;
  const auto headerBytes = header.encode();
  std::string out(headerBytes.begin(), headerBytes.end());
  Checksum running = header.checksum;
  std::vector<uint8_t> frame(kWalFrameHeaderSize + pageSize);
  for (const FrameSpec& spec : frames) {
    std::fill(frame.begin() + kWalFrameHeaderSize, frame.end(), spec.fill);
    WalFrameHeader fh;
    fh.pageNumber = spec.page;
    fh.commitSize = spec.commitSize;
    fh.salt1 = header.salt1;
    fh.salt2 = header.salt2;
    fh.encode(frame.data());
    running = walChecksum(frame.data(), 8, header.bigEndianChecksum(), running);
    running = walChecksum(frame.data() + kWalFrameHeaderSize, pageSize, header.bigEndianChecksum(),
                          running);
    fh.checksum = running;
    fh.encode(frame.data());
    out.append(reinterpret_cast<const char*>(frame.data()), frame.size());
  }
  return out;
}

std::string lz4Zeros(uint64_t contentSize) {
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.blockSizeID = LZ4F_max4MB;
  prefs.frameInfo.contentSize = contentSize;
  LZ4F_cctx* ctx = nullptr;
  if (LZ4F_isError(LZ4F_createCompressionContext(&ctx, LZ4F_VERSION))) {
    throw std::runtime_error("LZ4F_createCompressionContext failed");
  }
  const std::string block(size_t{4} << 20, '\0');
  std::string out;
  std::vector<char> buf(LZ4F_compressBound(block.size(), &prefs) + LZ4F_HEADER_SIZE_MAX);
  auto check = [&](size_t rc) {
    if (LZ4F_isError(rc)) {
      LZ4F_freeCompressionContext(ctx);
      throw std::runtime_error(std::string("lz4: ") + LZ4F_getErrorName(rc));
    }
    return rc;
  };
  out.append(buf.data(), check(LZ4F_compressBegin(ctx, buf.data(), buf.size(), &prefs)));
  for (uint64_t left = contentSize; left > 0;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(left, block.size()));
    out.append(buf.data(),
               check(LZ4F_compressUpdate(ctx, buf.data(), buf.size(), block.data(), n, nullptr)));
    left -= n;
  }
  out.append(buf.data(), check(LZ4F_compressEnd(ctx, buf.data(), buf.size(), nullptr)));
  LZ4F_freeCompressionContext(ctx);
  return out;
}

std::string lz4DeclaringLittle(uint64_t declared, size_t bytes) {
  std::string out = lz4Zeros(declared);
  if (out.size() < bytes) out.resize(bytes, '\0');
  return out;
}

std::string sqliteImage(const TempDir& dir, uint32_t pageSize) {
  const std::string path = dir.file("image-" + std::to_string(pageSize) + ".db");
  {
    WalDbOptions options;
    options.pageSize = pageSize;
    auto conn = openWalDatabase(path, options);
    conn->exec("CREATE TABLE t(a INTEGER PRIMARY KEY, b TEXT)");
    conn->exec("INSERT INTO t VALUES (1, 'one'), (2, 'two'), (3, 'three')");
  }  // the last close checkpoints the WAL into the file
  const std::vector<uint8_t> bytes = readBytes(path);
  return std::string(bytes.begin(), bytes.end());
}

uint16_t replicaStatusPort(Process& replica) {
  using namespace std::chrono_literals;
  const std::string log = replica.waitForStderr("replica status: listening on", 20s);
  std::smatch m;
  REQUIRE(std::regex_search(log, m, std::regex("listening on http://127\\.0\\.0\\.1:([0-9]+)")));
  return static_cast<uint16_t>(std::stoi(m[1].str()));
}

}  // namespace walstream::test
