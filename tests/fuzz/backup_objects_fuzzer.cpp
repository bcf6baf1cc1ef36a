// Fuzz target: the decoders of backup objects (backup/snapshot_object.h, backup/wal_object.h),
// which read what a store returns: objects a crash, a disk or an operator may have damaged.
//
// Input: a mode byte, then the bytes given to
//   0  decodeSnapshotIndex (an index frame);
//   1  decodeSnapshotFooter (a footer frame);
//   2  decodeWalObjectHeader (the start of a WAL object);
//   3  parseWalObject (a whole WAL object);
//   4  SnapshotObjectReader over a store holding them as one object, then readBlock of every
//      block (a whole snapshot object).
// Properties: every failure is an Error naming what it read ("snapshot index: ...", "WAL object
// header: ...", "snapshot object KEY: ..."). What a decoder accepts is canonical: encoding it
// again gives the input's bytes. An accepted WAL object's segments are spans of the input, back
// to back after the header, each declaring its WAL bytes; an accepted snapshot object's blocks
// decompress to exactly their pages.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "backup/snapshot_object.h"
#include "backup/wal_object.h"
#include "core/error.h"
#include "core/lz4_codec.h"
#include "storage/object_store.h"
#include "tests/fuzz/fuzz_check.h"

using namespace walstream;
using namespace walstream::backup;

namespace {

// Blocks read per snapshot object: enough to reach the last of any seed, few enough that an
// input of many tiny blocks stays fast.
constexpr uint64_t kMaxBlocksRead = 64;
const std::string kKey = "generations/0123456789abcdef/snapshots/0000000000000001.snapshot.lz4";

bool startsWith(const Error& e, std::string_view prefix) {
  return std::string_view(e.what()).starts_with(prefix);
}

bool equalBytes(const std::string& encoded, std::span<const uint8_t> bytes) {
  return fuzz::asText(bytes) == encoded;
}

// One object, read as a store would return it.
class OneObjectStore : public storage::ObjectStore {
 public:
  explicit OneObjectStore(std::span<const uint8_t> bytes) : bytes_(fuzz::asText(bytes)) {}
  std::string url() const override { return "memory:"; }
  std::vector<std::string> listDirectories(const std::string&) override { return {}; }
  std::vector<storage::ObjectInfo> list(const std::string&) override { return {}; }
  storage::ObjectInfo stat(const std::string& key) override {
    FUZZ_CHECK(key == kKey);
    return {key, bytes_.size(), std::chrono::system_clock::time_point()};
  }
  std::string read(const std::string& key, uint64_t offset, uint64_t maxBytes) override {
    FUZZ_CHECK(key == kKey);
    if (offset >= bytes_.size()) return {};
    return std::string(bytes_.substr(offset, maxBytes));
  }
  std::unique_ptr<storage::ObjectWriter> create(const std::string&) override {
    __builtin_trap();  // readers never write
  }
  void remove(const std::vector<std::string>&) override { __builtin_trap(); }

 private:
  std::string_view bytes_;
};

void checkSnapshotIndex(std::span<const uint8_t> bytes) {
  SnapshotIndex index;
  try {
    index = decodeSnapshotIndex(bytes);
  } catch (const Error& e) {
    FUZZ_CHECK(startsWith(e, "snapshot index: "));
    return;
  }
  FUZZ_CHECK(equalBytes(encodeSnapshotIndex(index), bytes));
  uint64_t pages = 0;
  for (uint64_t b = 0; b < index.blocks.size(); ++b) pages += index.pagesInBlock(b);
  FUZZ_CHECK(pages == index.pageCount);
}

void checkSnapshotFooter(std::span<const uint8_t> bytes) {
  try {
    const uint64_t indexOffset = decodeSnapshotFooter(bytes);
    FUZZ_CHECK(equalBytes(encodeSnapshotFooter(indexOffset), bytes));
  } catch (const Error& e) {
    FUZZ_CHECK(startsWith(e, "snapshot footer: "));
  }
}

void checkWalObjectHeader(std::span<const uint8_t> bytes) {
  DecodedWalObjectHeader decoded;
  try {
    decoded = decodeWalObjectHeader(bytes);
  } catch (const Error& e) {
    FUZZ_CHECK(startsWith(e, "WAL object header: "));
    return;
  }
  FUZZ_CHECK(decoded.frameBytes <= bytes.size());
  FUZZ_CHECK(equalBytes(encodeWalObjectHeader(decoded.header), bytes.first(decoded.frameBytes)));
}

void checkWalObject(std::span<const uint8_t> bytes) {
  WalObjectView view;
  try {
    view = parseWalObject(bytes);
  } catch (const Error& e) {
    FUZZ_CHECK(startsWith(e, "WAL object header: ") || startsWith(e, "WAL object: "));
    return;
  }
  FUZZ_CHECK(view.segments.size() == view.header.segments.size());
  const uint8_t* next = bytes.data() + encodeWalObjectHeader(view.header).size();
  for (size_t i = 0; i < view.segments.size(); ++i) {
    FUZZ_CHECK(view.segments[i].data() == next);
    FUZZ_CHECK(view.segments[i].size() == view.header.segments[i].size);
    FUZZ_CHECK(lz4ContentSize(view.segments[i]) == view.header.segments[i].walBytes);
    next += view.segments[i].size();
  }
  FUZZ_CHECK(next == bytes.data() + bytes.size());
  FUZZ_CHECK(equalBytes(encodeWalObject(view.header, view.segments), bytes));
}

void checkSnapshotObject(std::span<const uint8_t> bytes) {
  OneObjectStore store(bytes);
  const std::string prefix = "snapshot object " + kKey + ": ";
  std::unique_ptr<SnapshotObjectReader> reader;
  try {
    reader = std::make_unique<SnapshotObjectReader>(store, kKey);
  } catch (const Error& e) {
    FUZZ_CHECK(startsWith(e, prefix));
    return;
  }
  const SnapshotIndex& index = reader->index();
  FUZZ_CHECK(index.blocks.empty() || index.blocks.back().offset + index.blocks.back().size +
                                             encodeSnapshotIndex(index).size() +
                                             kSnapshotFooterSize ==
                                         bytes.size());
  const uint64_t blocks = std::min<uint64_t>(index.blocks.size(), kMaxBlocksRead);
  for (uint64_t b = 0; b < blocks; ++b) {
    try {
      FUZZ_CHECK(reader->readBlock(b).size() == index.pagesInBlock(b) * index.pageSize);
    } catch (const Error& e) {
      FUZZ_CHECK(startsWith(e, prefix + "block " + std::to_string(b) + " "));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::InputReader in(data, size);
  const uint8_t mode = in.byte();
  switch (mode % 5) {
    case 0:
      checkSnapshotIndex(in.rest());
      break;
    case 1:
      checkSnapshotFooter(in.rest());
      break;
    case 2:
      checkWalObjectHeader(in.rest());
      break;
    case 3:
      checkWalObject(in.rest());
      break;
    case 4:
      checkSnapshotObject(in.rest());
      break;
  }
  return 0;
}
