// Bytes of a /stream response as a hostile or broken upstream would send them, for tests of the
// replica against a CannedHttpServer: valid response heads and records around payloads that
// are not what they claim.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/pos.h"
#include "proto/stream_record.h"

namespace walstream::test {

class Process;
class TempDir;

// "HTTP/1.1 200 OK" with `headerLines` (each ending in CRLF), no length: the body runs until
// the connection closes.
std::string streamResponseHead(const std::string& headerLines);
// The same with "Walstream-Page-Size: <pageSize>".
std::string streamResponseHead(uint32_t pageSize);

// A record's 40-byte header followed by `payload` (whose size the header may misstate: pass
// `size` to announce another).
std::string streamRecord(proto::RecordType type, const Pos& pos, const std::string& payload,
                         uint32_t flags = 0);
std::string streamRecordHeader(proto::RecordType type, const Pos& pos, uint64_t size,
                               uint32_t flags = 0);

// A heartbeat claiming the primary is at `pos`.
std::string heartbeatRecord(const Pos& pos);

// One WAL frame to build: page number, commit size (0: not a commit frame), page bytes filled.
struct FrameSpec {
  uint32_t page = 1;
  uint32_t commitSize = 0;
  uint8_t fill = 0;
};
// A WAL file's first bytes (header then the frames), with valid salts and checksum chain.
std::string walBytes(uint32_t pageSize, const std::vector<FrameSpec>& frames);

// An lz4 frame that declares and decompresses to `contentSize` zero bytes (written a block at
// a time, so building it costs little memory).
std::string lz4Zeros(uint64_t contentSize);

// A segment payload of `bytes` bytes whose lz4 frame header declares `declared` bytes of
// content: a frame of `declared` zeros, then filler up to `bytes` (an upstream that lies about
// what a segment holds, to look small while it sends much).
std::string lz4DeclaringLittle(uint64_t declared, size_t bytes);

// The image of a small WAL-mode SQLite database (one table, a few rows) of `pageSize`.
std::string sqliteImage(const TempDir& dir, uint32_t pageSize);

// The port of a replica's --http 127.0.0.1:0 server, from its log (waits up to 20 s).
uint16_t replicaStatusPort(Process& replica);

}  // namespace walstream::test
