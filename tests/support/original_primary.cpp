#include "tests/support/original_primary.h"

#include <fcntl.h>
#include <poll.h>

#include <charconv>

#include "core/byte_order.h"
#include "core/error.h"
#include "core/pos.h"
#include "core/sqlite_conn.h"
#include "proto/query_string.h"
#include "proto/stream_record.h"
#include "tests/support/hostile_stream.h"
#include "tests/support/lz4_frames.h"
#include "tests/support/sqlite_fixture.h"

namespace walstream::test {

namespace {

// Between two looks at the WAL file while a stream is idle, and the longest a stop waits.
constexpr int kIdlePollMs = 20;

// One chunk of a chunked body, as Go's net/http writes a flushed write.
std::string chunk(const std::string& bytes) {
  char size[32];
  const auto end = std::to_chars(size, size + sizeof size, bytes.size(), 16).ptr;
  return std::string(size, end) + "\r\n" + bytes + "\r\n";
}

std::string plainAnswer(int status, const std::string& reason, const std::string& text) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: " +
         std::to_string(text.size() + 1) + "\r\nConnection: close\r\n\r\n" + text + "\n";
}

// The first value of `key` in the query of `target`; "" when absent.
std::string queryValue(const std::string& target, const std::string& key) {
  const size_t q = target.find('?');
  if (q == std::string::npos) return "";
  for (const auto& [k, v] : proto::parseQueryString(std::string_view(target).substr(q + 1))) {
    if (k == key) return v;
  }
  return "";
}

// Whether the peer closed the connection (or sent something, which a stream client never does).
bool peerSpokeOrLeft(int fd) {
  pollfd p{fd, POLLIN | POLLRDHUP, 0};
  return ::poll(&p, 1, kIdlePollMs) > 0;
}

}  // namespace

OriginalPrimary::OriginalPrimary(Options options)
    : options_(std::move(options)),
      dbFd_(openFile(options_.dbPath, O_RDONLY)),
      current_(options_.index),
      image_(readImage()),
      server_([this](int fd, const std::string& target) { serve(fd, target); }, options_.port) {
  std::lock_guard lock(mu_);
  indexes_[current_] = {};
  recordNewTransactions();
}

std::string OriginalPrimary::readImage() const {
  std::string image(fileSize(dbFd_.get(), options_.dbPath), '\0');
  if (preadFull(dbFd_.get(), image.data(), image.size(), 0, options_.dbPath) != image.size()) {
    throw Error(options_.dbPath + " shrank while it was read");
  }
  return image;
}

void OriginalPrimary::recordNewTransactions() {
  const std::string walPath = options_.dbPath + "-wal";
  if (!pathExists(walPath)) return;
  RecordedIndex& r = indexes_[current_];
  const std::vector<uint8_t> wal = readBytes(walPath);
  std::string fresh;
  // Whole transactions only, each checked against the chain: a transaction SQLite is still
  // writing (or frames of an older WAL) ends what is recorded this time.
  for (const WalSlice& slice : splitWalAtCommits(wal)) {
    if (slice.offset < r.end) continue;
    if (slice.offset != r.end) break;
    WalChainState chain = r.chain;
    try {
      parseWalSegment(slice.bytes, slice.offset, chain);
    } catch (const Error&) {
      break;
    }
    r.chain = chain;
    fresh.append(slice.bytes.begin(), slice.bytes.end());
    r.end += slice.bytes.size();
  }
  if (fresh.empty()) return;
  const uint64_t offset = r.end - fresh.size();
  r.segments.push_back({offset, lz4FrameOf(fresh, Lz4FrameKind{})});  // no content size
}

void OriginalPrimary::startNextIndex(SqliteConnection& source) {
  std::lock_guard lock(mu_);
  recordNewTransactions();
  source.exec("PRAGMA wal_checkpoint(TRUNCATE)");
  ++current_;
  indexes_[current_] = {};
  image_ = readImage();
}

void OriginalPrimary::serve(int fd, const std::string& target) {
  if (target.rfind("/stream?", 0) != 0 && target != "/stream") {
    server_.sendAll(fd, plainAnswer(404, "Not Found", "404 page not found"));
    return;
  }
  const std::string path = queryValue(target, "path");
  if (path.empty()) {
    server_.sendAll(fd, plainAnswer(400, "Bad Request", "Database name required"));
    return;
  }
  if (path != (options_.servedPath.empty() ? options_.dbPath : options_.servedPath)) {
    server_.sendAll(fd, plainAnswer(404, "Not Found", "Database not found"));
    return;
  }
  const std::string generation = queryValue(target, "generation");
  const std::string indexText = queryValue(target, "index");
  uint64_t index = 0;
  if (!generation.empty() && !indexText.empty()) {
    const auto [p, ec] =
        std::from_chars(indexText.data(), indexText.data() + indexText.size(), index, 16);
    if (ec != std::errc() || p != indexText.data() + indexText.size()) {
      server_.sendAll(fd, plainAnswer(400, "Bad Request", "Invalid index query parameter"));
      return;
    }
  }
  std::string body;
  Cursor cursor;
  uint32_t pageSize = 0;
  {
    std::lock_guard lock(mu_);
    pageSize = loadBE16(reinterpret_cast<const uint8_t*>(image_.data()) + 16);
    recordNewTransactions();
    cursor.index = index;
    // Resumable: the same generation and an index still recorded. Else a snapshot of the
    // database file at offset 0 of the current index.
    if (generation != formatHex16(options_.generation) || !indexes_.contains(index)) {
      cursor.index = current_;
      body = streamRecord(proto::RecordType::kSnapshot, {options_.generation, current_, 0}, image_);
      ++snapshotsSent_;
    }
  }
  const std::string head =
      "HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nLitestream-Page-Size: " +
      std::to_string(pageSize == 1 ? 65536 : pageSize) + "\r\nTransfer-Encoding: chunked\r\n\r\n";
  if (!server_.sendAll(fd, head)) return;
  if (!body.empty() && !server_.sendAll(fd, chunk(body))) return;
  followUntilClosed(fd, cursor);
}

std::string OriginalPrimary::recordsFrom(Cursor& cursor) {
  std::lock_guard lock(mu_);
  recordNewTransactions();
  std::string out;
  for (;;) {
    const RecordedIndex& r = indexes_.at(cursor.index);
    for (; cursor.segment < r.segments.size(); ++cursor.segment) {
      const Segment& s = r.segments[cursor.segment];
      out += streamRecord(proto::RecordType::kWalSegment,
                          {options_.generation, cursor.index, s.offset}, s.lz4);
    }
    if (cursor.index == current_) return out;
    ++cursor.index;
    cursor.segment = 0;
  }
}

void OriginalPrimary::followUntilClosed(int fd, Cursor cursor) {
  while (!server_.stopping()) {
    const std::string records = recordsFrom(cursor);
    if (!records.empty()) {
      if (!server_.sendAll(fd, chunk(records))) return;
      continue;
    }
    if (peerSpokeOrLeft(fd)) return;
  }
}

}  // namespace walstream::test
