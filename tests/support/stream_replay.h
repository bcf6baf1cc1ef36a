// Reading /stream records over HttpStream, and replaying them onto a database image the way a
// replica without readers could: snapshot bytes written to the file, then each transaction's
// pages at (pgno-1)*page_size and the file cut to the commit size. Every segment must continue
// the stream's position and the WAL checksum chain (core/wal_segment.h).
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <optional>
#include <string>

#include "core/pos.h"
#include "core/wal_segment.h"
#include "proto/stream_record.h"
#include "tests/support/http_client.h"

namespace walstream::test {

struct StreamRecord {
  proto::StreamRecordHeader header;
  std::string payload;
};

// The next record's header alone, its payload left to read from `stream`; nullopt when none
// arrives within `timeout` or the body ended.
std::optional<proto::StreamRecordHeader> readRecordHeader(HttpStream& stream,
                                                          std::chrono::milliseconds timeout);

// The next record; nullopt when no header arrives within `timeout` (partial bytes stay
// buffered) or the body ended (see HttpStream::end()). Throws when a payload does not follow
// its header within another `timeout`.
std::optional<StreamRecord> readRecord(HttpStream& stream, std::chrono::milliseconds timeout);

// The position right after a WAL segment record (decompresses its payload).
Pos segmentEnd(const StreamRecord& record);

// The WAL chain state at `pos`, rebuilt from the primary's shadow WAL segments of pos's index.
WalChainState chainStateFromShadow(const std::string& shadowRoot, const Pos& pos);

class StreamReplay {
 public:
  // `shadowRoot`: the primary's DB-walstream directory, read only to learn the chain state at
  // a snapshot's position (the stream does not carry it).
  StreamReplay(std::string imagePath, std::string shadowRoot);

  // Throws std::runtime_error on a gap, a broken chain or a malformed record.
  void apply(const StreamRecord& record);

  Pos position() const { return pos_; }
  const WalChainState& chain() const { return chain_; }
  int snapshots() const { return snapshots_; }
  int segments() const { return segments_; }
  int heartbeats() const { return heartbeats_; }

  // dumpDatabase() of a copy of the image (so SQLite never touches the image itself).
  std::string dump() const;

 private:
  std::string image_;
  std::string shadowRoot_;
  Pos pos_;
  WalChainState chain_;
  uint32_t pageSize_ = 0;
  int snapshots_ = 0;
  int segments_ = 0;
  int heartbeats_ = 0;
};

// Reads and applies records until the replay's content equals `primaryDb`'s, bounded by
// `timeout`. Returns whether it converged.
bool replayUntilEqual(HttpStream& stream, StreamReplay& replay, const std::string& primaryDb,
                      std::chrono::milliseconds timeout);

}  // namespace walstream::test

namespace doctest {
template <>
struct StringMaker<walstream::Pos> {
  static String convert(const walstream::Pos& p) {
    return p.empty() ? "(empty position)" : p.str().c_str();
  }
};
}  // namespace doctest
