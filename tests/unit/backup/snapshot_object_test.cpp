#include <doctest/doctest.h>

#include <cstring>
#include <string>
#include <vector>

#include "backup/fnv1a64.h"
#include "backup/layout.h"
#include "backup/snapshot_object.h"
#include "core/byte_order.h"
#include "core/error.h"
#include "core/file_util.h"
#include "core/lz4_codec.h"
#include "storage/directory_store.h"
#include "storage/object_store.h"
#include "tests/support/lz4_tool.h"
#include "tests/support/object_store_calls.h"
#include "tests/support/process.h"
#include "tests/support/sqlite_fixture.h"
#include "tests/support/temp_dir.h"

using namespace walstream;
using namespace walstream::backup;
using namespace walstream::test;

namespace {

constexpr uint64_t kGeneration = 0x0123456789abcdef;
constexpr size_t kFrameHeader = 8;  // skippable frame: magic, payload size
// Index payload offsets (docs/backup.md §3), from the start of the frame.
constexpr size_t kPageCountAt = kFrameHeader + 8 + 24 + 4;
constexpr size_t kChainFlagAt = kPageCountAt + 8 + 4;
constexpr size_t kBlockCountAt = kChainFlagAt + 1 + 16 + 1 + 8;
constexpr size_t kBlocksAt = kBlockCountAt + 8;

// A sink for the writer: the object's bytes in memory.
class StringSink : public storage::ObjectWriter {
 public:
  void write(std::span<const char> bytes) override { bytes_.append(bytes.data(), bytes.size()); }
  void commit() override {}
  uint64_t bytesWritten() const override { return bytes_.size(); }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

// The file of a real SQLite database of about 80 pages of `pageSize`, checkpointed: text that
// compresses and blobs that do not.
std::string realDatabaseImage(const TempDir& dir, uint32_t pageSize) {
  const std::string path = dir.file("app-" + std::to_string(pageSize) + ".db");
  {
    auto db = openWalDatabase(path, {.pageSize = pageSize});
    db->exec("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, v BLOB)");
    db->exec("CREATE INDEX t_name ON t(name)");
    db->exec("BEGIN");
    for (int i = 0; i < 600; ++i) {
      db->exec("INSERT INTO t(name, v) VALUES('customer " + std::to_string(i * 7919 % 1000) +
               "', randomblob(" + std::to_string(i % 5 == 0 ? pageSize / 2 : 40) + "))");
    }
    db->exec("COMMIT");
    db->exec("PRAGMA wal_checkpoint(TRUNCATE)");
  }
  const std::vector<uint8_t> bytes = readBytes(path);
  return {bytes.begin(), bytes.end()};
}

// Writes `image` in pieces of varying numbers of pages, as a caller reading a file would.
std::string writeSnapshot(const std::string& image, uint32_t pageSize, uint32_t pagesPerBlock,
                          const Pos& position, std::optional<WalChainState> chain,
                          SnapshotIndex* index = nullptr) {
  StringSink sink;
  SnapshotObjectWriter writer(sink, position, pageSize, chain, 1700000000123, pagesPerBlock);
  const size_t pieces[] = {1, 3, 16, 40, 2, 7};
  size_t at = 0;
  for (size_t i = 0; at < image.size(); ++i) {
    const size_t n = std::min(pieces[i % std::size(pieces)] * pageSize, image.size() - at);
    writer.addPages({image.data() + at, n});
    at += n;
  }
  writer.finish();
  if (index) *index = writer.index();
  return sink.bytes();
}

// The index frame of an object, found through its footer.
std::string indexFrameOf(const std::string& object) {
  const uint64_t at = decodeSnapshotFooter(asBytes(object).last(kSnapshotFooterSize));
  return object.substr(at, object.size() - kSnapshotFooterSize - at);
}

template <typename F>
std::string errorOf(F f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

std::string decodeError(const std::string& frame) {
  return errorOf([&] { decodeSnapshotIndex(asBytes(frame)); });
}

// Recomputes the index's sum after a test changed its fields, so that the field is what is
// refused and not the sum.
void resum(std::string& frame) {
  const size_t sumAt = frame.size() - 8;
  storeBE64(reinterpret_cast<uint8_t*>(frame.data() + sumAt),
            fnv1a64(asBytes(frame).subspan(kFrameHeader, sumAt - kFrameHeader)));
}

void putBE64(std::string& s, size_t at, uint64_t v) {
  storeBE64(reinterpret_cast<uint8_t*>(s.data() + at), v);
}

bool sameIndex(const SnapshotIndex& a, const SnapshotIndex& b) {
  const auto sameChain = [](const std::optional<WalChainState>& x,
                            const std::optional<WalChainState>& y) {
    if (x.has_value() != y.has_value()) return false;
    return !x || (x->pageSize == y->pageSize && x->salt1 == y->salt1 && x->salt2 == y->salt2 &&
                  x->bigEndianChecksum == y->bigEndianChecksum && x->checksum == y->checksum);
  };
  if (a.blocks.size() != b.blocks.size()) return false;
  for (size_t i = 0; i < a.blocks.size(); ++i) {
    if (a.blocks[i].offset != b.blocks[i].offset || a.blocks[i].size != b.blocks[i].size) {
      return false;
    }
  }
  return a.position == b.position && a.pageSize == b.pageSize && a.pageCount == b.pageCount &&
         a.pagesPerBlock == b.pagesPerBlock && sameChain(a.chain, b.chain) &&
         a.capturedAtMs == b.capturedAtMs;
}

WalChainState someChain(uint32_t pageSize) {
  WalChainState chain;
  chain.pageSize = pageSize;
  chain.salt1 = 0x11223344;
  chain.salt2 = 0x55667788;
  chain.bigEndianChecksum = true;
  chain.checksum = {0x99aabbcc, 0xddeeff00};
  return chain;
}

}  // namespace

TEST_CASE("a real database written as a snapshot object: lz4 -dc yields the identical file") {
  TempDir dir;
  for (const auto& [pageSize, pagesPerBlock] :
       std::vector<std::pair<uint32_t, uint32_t>>{{4096, 0}, {1024, 5}, {1024, 1}, {512, 1000}}) {
    CAPTURE(pageSize);
    CAPTURE(pagesPerBlock);
    TempDir dbDir;
    const std::string image = realDatabaseImage(dbDir, pageSize);
    REQUIRE(image.size() % pageSize == 0);
    const Pos position{kGeneration, 3, 0x1f60};
    SnapshotIndex written;
    const std::string object =
        writeSnapshot(image, pageSize, pagesPerBlock, position, someChain(pageSize), &written);

    const SnapshotIndex index = decodeSnapshotIndex(asBytes(indexFrameOf(object)));
    CHECK(sameIndex(index, written));
    CHECK(index.position == position);
    CHECK(index.pageSize == pageSize);
    CHECK(index.pageCount == image.size() / pageSize);
    CHECK(index.pagesPerBlock ==
          (pagesPerBlock == 0 ? defaultPagesPerBlock(pageSize) : pagesPerBlock));
    CHECK(index.capturedAtMs == 1700000000123);
    REQUIRE(index.chain.has_value());
    CHECK(index.chain->salt1 == 0x11223344);
    CHECK(index.blocks.size() == (index.pageCount + index.pagesPerBlock - 1) / index.pagesPerBlock);
    // Each block is an independent frame of its pages.
    for (uint64_t b = 0; b < index.blocks.size(); ++b) {
      const uint64_t pages = index.pagesInBlock(b);
      const std::string frame = object.substr(index.blocks[b].offset, index.blocks[b].size);
      CHECK(lz4Decompress(asBytes(frame), pages * pageSize) ==
            image.substr(b * index.pagesPerBlock * pageSize, pages * pageSize));
    }
    const std::string path = dir.file("app.snapshot.lz4");
    writeFileAtomic(path, object);
    CHECK(lz4DecompressFiles({path}, dir.file("lz4")) == image);
  }
}

TEST_CASE("snapshot objects of no pages, and at offset 0 without a chain") {
  const std::string object = writeSnapshot("", 4096, 0, Pos{kGeneration, 5, 0}, std::nullopt);
  CHECK(object.size() == kBlocksAt + 8 + kSnapshotFooterSize);
  const SnapshotIndex index = decodeSnapshotIndex(asBytes(indexFrameOf(object)));
  CHECK(index.pageCount == 0);
  CHECK(index.blocks.empty());
  CHECK_FALSE(index.chain.has_value());
  CHECK(index.position == Pos{kGeneration, 5, 0});
}

TEST_CASE("snapshot index and footer: the encoding of docs/backup.md §3") {
  SnapshotIndex x;
  x.position = {kGeneration, 2, 4096 + 32};
  x.pageSize = 4096;
  x.pageCount = 33;
  x.pagesPerBlock = 16;
  x.chain = someChain(4096);
  x.capturedAtMs = -1;
  x.blocks = {{0, 100}, {100, 2000}, {2100, 50}};
  const std::string frame = encodeSnapshotIndex(x);
  CHECK(frame.size() == kBlocksAt + 3 * 16 + 8);
  CHECK(loadLE32(asBytes(frame).data()) == 0x184D2A5E);
  CHECK(loadLE32(asBytes(frame).data() + 4) == frame.size() - 8);
  CHECK(frame.substr(8, 8) == "WSSNAP01");
  CHECK(loadBE64(asBytes(frame).data() + kPageCountAt) == 33);
  CHECK(frame[kChainFlagAt] == 1);
  CHECK(loadBE64(asBytes(frame).data() + kBlockCountAt) == 3);
  CHECK(sameIndex(decodeSnapshotIndex(asBytes(frame)), x));

  const std::string footer = encodeSnapshotFooter(0x0102030405060708);
  CHECK(footer.size() == kSnapshotFooterSize);
  CHECK(loadLE32(asBytes(footer).data()) == 0x184D2A5F);
  CHECK(loadLE32(asBytes(footer).data() + 4) == 8);
  CHECK(decodeSnapshotFooter(asBytes(footer)) == 0x0102030405060708);

  CHECK(defaultPagesPerBlock(4096) == 16);
  CHECK(defaultPagesPerBlock(512) == 128);
  CHECK(defaultPagesPerBlock(65536) == 1);
}

TEST_CASE("snapshot object writer: refuses what no index could hold") {
  StringSink sink;
  const Pos at0{kGeneration, 1, 0};
  const Pos past0{kGeneration, 1, 4128};
  const auto constructed = [&](const Pos& p, uint32_t pageSize, std::optional<WalChainState> c,
                               uint32_t pagesPerBlock) {
    return errorOf([&] { SnapshotObjectWriter(sink, p, pageSize, c, 0, pagesPerBlock); });
  };
  CHECK(constructed(at0, 4096, std::nullopt, 0) == "(no error)");
  CHECK(constructed(past0, 4096, someChain(4096), 0) == "(no error)");
  CHECK(constructed(at0, 1000, std::nullopt, 0) ==
        "cannot write a snapshot object: page size 1000 is not a SQLite page size");
  CHECK(constructed(Pos{}, 4096, std::nullopt, 0) ==
        "cannot write a snapshot object: generation 0");
  CHECK(constructed(at0, 4096, someChain(4096), 0).find("a WAL checksum chain at offset 0") !=
        std::string::npos);
  CHECK(constructed(past0, 4096, std::nullopt, 0) ==
        "cannot write a snapshot object: no WAL checksum chain at offset 4128");
  CHECK(constructed(past0, 4096, someChain(1024), 0) ==
        "cannot write a snapshot object: chain page size 1024 differs from page size 4096");
  CHECK(constructed(at0, 65536, std::nullopt, 1025).find("more than 67108864 bytes") !=
        std::string::npos);

  SnapshotObjectWriter writer(sink, at0, 1024, std::nullopt, 0, 4);
  const std::string pages(1024 * 3, 'p');
  writer.addPages({pages.data(), 1024});
  CHECK(errorOf([&] {
          writer.addPages({pages.data(), 1000});
        }) == "snapshot object writer: 1000 bytes are not whole pages of 1024");
  writer.addPages({pages.data(), pages.size()});
  writer.finish();
  CHECK(writer.index().pageCount == 4);
  CHECK(writer.index().blocks.size() == 1);
  CHECK(errorOf([&] {
          writer.addPages({pages.data(), 1024});
        }) == "snapshot object writer: pages added after finish()");
}

TEST_CASE("snapshot index: every kind of damage is refused, naming what is wrong") {
  TempDir dir;
  const std::string image = realDatabaseImage(dir, 1024);
  const std::string object =
      writeSnapshot(image, 1024, 8, Pos{kGeneration, 3, 0x1f60}, someChain(1024));
  const std::string frame = indexFrameOf(object);
  const SnapshotIndex index = decodeSnapshotIndex(asBytes(frame));
  REQUIRE(index.blocks.size() >= 4);
  const std::string count = std::to_string(index.blocks.size());

  SUBCASE("a flipped byte anywhere") {
    for (size_t at = 0; at < frame.size(); ++at) {
      CAPTURE(at);
      std::string bad = frame;
      bad[at] ^= 0x04;
      const std::string error = decodeError(bad);
      CHECK(error.starts_with("snapshot index: "));
      if (at >= 16) CHECK(error.find("FNV-1a sum mismatch") != std::string::npos);
    }
  }
  SUBCASE("truncated, or with bytes after it") {
    for (size_t size = 0; size < frame.size(); ++size) {
      CAPTURE(size);
      CHECK(decodeError(frame.substr(0, size)).starts_with("snapshot index: "));
    }
    CHECK(decodeError(frame + "xy") == "snapshot index: 2 bytes after the frame");
  }
  SUBCASE("a lying block count") {
    for (uint64_t lie : {uint64_t{0}, index.blocks.size() - 1, index.blocks.size() + 1,
                         ~uint64_t{0}, uint64_t{1} << 60}) {
      CAPTURE(lie);
      std::string bad = frame;
      putBE64(bad, kBlockCountAt, lie);
      resum(bad);
      CHECK(decodeError(bad) ==
            "snapshot index: block count " + std::to_string(lie) + " does not match the " +
                std::to_string(index.blocks.size() * 16) + " bytes of block fields (16 each)");
    }
  }
  SUBCASE("a page count the blocks do not hold") {
    std::string bad = frame;
    putBE64(bad, kPageCountAt, index.pageCount + 8);
    resum(bad);
    CHECK(decodeError(bad) ==
          "snapshot index: " + count + " blocks for " + std::to_string(index.pageCount + 8) +
              " pages of 8 per block (expected " + std::to_string(index.blocks.size() + 1) + ")");
  }
  SUBCASE("blocks that overlap, leave a gap or do not start at 0") {
    for (int64_t delta : {int64_t{-1}, int64_t{1}, -static_cast<int64_t>(index.blocks[1].offset)}) {
      CAPTURE(delta);
      std::string bad = frame;
      putBE64(bad, kBlocksAt + 16, index.blocks[1].offset + static_cast<uint64_t>(delta));
      resum(bad);
      CHECK(decodeError(bad) ==
            "snapshot index: block 1 (object byte " +
                std::to_string(index.blocks[1].offset + static_cast<uint64_t>(delta)) +
                ") does not start where the one before ends (" +
                std::to_string(index.blocks[1].offset) + "): blocks must be contiguous from 0");
    }
    std::string bad = frame;
    putBE64(bad, kBlocksAt, 1);
    resum(bad);
    CHECK(decodeError(bad).starts_with("snapshot index: block 0 (object byte 1) does not start"));
  }
  SUBCASE("a chain flag that is neither 0 nor 1, or chain fields without it") {
    std::string bad = frame;
    bad[kChainFlagAt] = 2;
    resum(bad);
    CHECK(decodeError(bad) == "snapshot index: chain flag 2 is neither 0 nor 1");
    bad[kChainFlagAt] = 0;
    resum(bad);
    CHECK(decodeError(bad) == "snapshot index: chain fields set with the chain flag 0");
  }
  SUBCASE("another frame kind, another magic") {
    std::string bad = frame;
    bad[0] = 0x5F;
    CHECK(decodeError(bad) == "snapshot index: frame magic 0x184D2A5F, expected 0x184D2A5E");
    bad = frame;
    bad[8] = 'X';
    CHECK(decodeError(bad) == "snapshot index: magic is not WSSNAP01");
  }
}

TEST_CASE("snapshot footer: anything but the 16 bytes of its frame is refused") {
  const std::string footer = encodeSnapshotFooter(12345);
  const auto error = [](const std::string& bytes) {
    return errorOf([&] { decodeSnapshotFooter(asBytes(bytes)); });
  };
  CHECK(error(footer.substr(0, 15)) == "snapshot footer: 15 bytes, expected 16");
  CHECK(error(footer + "x") == "snapshot footer: 17 bytes, expected 16");
  for (size_t at = 0; at < 8; ++at) {
    CAPTURE(at);
    std::string bad = footer;
    bad[at] ^= 0x20;
    CHECK(error(bad).starts_with("snapshot footer: "));
  }
}

namespace {

std::string readerError(storage::ObjectStore& store, const std::string& key) {
  return errorOf([&] { SnapshotObjectReader(store, key); });
}

}  // namespace

TEST_CASE(
    "snapshot object reader: a real database stored in a directory reads back block by block") {
  TempDir dir;
  const std::string image = realDatabaseImage(dir, 4096);
  storage::DirectoryStore store(dir.file("store"));
  const std::string key = snapshotKey(kGeneration, 3);
  SnapshotIndex written;
  {
    std::unique_ptr<storage::ObjectWriter> out = store.create(key);
    SnapshotObjectWriter writer(*out, Pos{kGeneration, 3, 0x1f60}, 4096, someChain(4096),
                                1700000000123);
    writer.addPages(image);
    writer.finish();
    written = writer.index();
    out->commit();
  }
  SnapshotObjectReader reader(store, key);
  CHECK(reader.key() == key);
  CHECK(sameIndex(reader.index(), written));
  const uint64_t blocks = reader.index().blocks.size();
  REQUIRE(blocks >= 3);
  std::string pages;
  for (uint64_t b = 0; b < blocks; ++b) pages += reader.readBlock(b);
  CHECK(pages == image);
  // Blocks fetched by the caller decode the same.
  const SnapshotBlock& second = reader.index().blocks[1];
  CHECK(reader.decodeBlock(1, asBytes(store.read(key, second.offset, second.size))) ==
        image.substr(16 * 4096, 16 * 4096));
  CHECK(errorOf([&] { reader.readBlock(blocks); }) == "snapshot object " + key + ": no block " +
                                                          std::to_string(blocks) + " (it has " +
                                                          std::to_string(blocks) + ")");
  // The stored file is what the lz4 tool reads as the database.
  CHECK(lz4DecompressFiles({dir.file("store") + "/" + key}, dir.file("lz4")) == image);

  const std::string missing = snapshotKey(kGeneration, 4);
  const std::optional<storage::StorageError> failure =
      storageFailure([&] { SnapshotObjectReader(store, missing); });
  REQUIRE(failure.has_value());
  CHECK(failure->kind() == storage::StorageError::Kind::kNotFound);
}

TEST_CASE("snapshot object reader: damage anywhere is refused, naming the object and the place") {
  TempDir dir;
  const std::string image = realDatabaseImage(dir, 1024);
  SnapshotIndex index;
  const std::string object =
      writeSnapshot(image, 1024, 8, Pos{kGeneration, 3, 0x1f60}, someChain(1024), &index);
  REQUIRE(index.blocks.size() >= 4);
  const uint64_t indexAt = decodeSnapshotFooter(asBytes(object).last(kSnapshotFooterSize));
  const uint64_t footerAt = object.size() - kSnapshotFooterSize;
  storage::DirectoryStore store(dir.file("store"));
  const std::string key = snapshotKey(kGeneration, 3);
  const std::string prefix = "snapshot object " + key + ": ";
  putObject(store, key, object);
  REQUIRE(readerError(store, key) == "(no error)");

  SUBCASE("a flipped byte in a block: that block is refused, the others read") {
    const uint64_t last = index.blocks.size() - 1;
    for (uint64_t b : {uint64_t{0}, uint64_t{2}, last}) {
      CAPTURE(b);
      const SnapshotBlock& block = index.blocks[b];
      for (uint64_t at : {block.offset + 4, block.offset + 6, block.offset + block.size / 2,
                          block.offset + block.size - 1}) {
        CAPTURE(at);
        std::string bad = object;
        bad[at] ^= 0x01;
        putObject(store, key, bad);
        SnapshotObjectReader reader(store, key);  // the index is intact
        const uint64_t first = b * 8 + 1;
        CHECK(errorOf([&] { reader.readBlock(b); })
                  .starts_with(prefix + "block " + std::to_string(b) + " (object byte " +
                               std::to_string(block.offset) + "), pages " + std::to_string(first) +
                               "-" + std::to_string(first + index.pagesInBlock(b) - 1) + ": "));
        CHECK(reader.readBlock(1) == image.substr(8 * 1024, 8 * 1024));
      }
    }
    // Content size field: the frame no longer declares its pages.
    std::string bad = object;
    bad[index.blocks[1].offset + 7] ^= 0x01;
    putObject(store, key, bad);
    CHECK(errorOf([&] { SnapshotObjectReader(store, key).readBlock(1); }) ==
          prefix + "block 1 (object byte " + std::to_string(index.blocks[1].offset) +
              "), pages 9-16: its LZ4 frame declares " + std::to_string(8 * 1024 + 256) +
              " bytes of content, its pages are " + std::to_string(8 * 1024));
  }
  SUBCASE("a flipped byte in the index") {
    for (uint64_t at = indexAt; at < footerAt; at += 7) {
      CAPTURE(at);
      std::string bad = object;
      bad[at] ^= 0x40;
      putObject(store, key, bad);
      const std::string error = readerError(store, key);
      CHECK(error.starts_with(prefix));
      if (at >= indexAt + 16) CHECK(error.find("FNV-1a sum mismatch") != std::string::npos);
    }
  }
  SUBCASE("a flipped byte in the footer") {
    for (uint64_t at = footerAt; at < object.size(); ++at) {
      CAPTURE(at);
      std::string bad = object;
      bad[at] ^= 0x02;
      putObject(store, key, bad);
      CHECK(readerError(store, key).starts_with(prefix));
    }
    std::string bad = object;
    bad[object.size() - 1] ^= 0x08;  // the index offset's last byte: 8 bytes later
    putObject(store, key, bad);
    CHECK(readerError(store, key).starts_with(prefix + "snapshot index: frame magic 0x"));
  }
  SUBCASE("truncated anywhere") {
    for (uint64_t size : {uint64_t{0}, uint64_t{15}, uint64_t{16}, index.blocks[1].offset, indexAt,
                          indexAt + 20, footerAt, object.size() - 1}) {
      CAPTURE(size);
      putObject(store, key, object.substr(0, size));
      CHECK(readerError(store, key).starts_with(prefix));
    }
    putObject(store, key, object.substr(0, 15));
    CHECK(readerError(store, key) == prefix + "15 bytes, too short for a footer (16)");
  }
  SUBCASE("blocks that overlap, or do not end where the index starts") {
    std::string frame = object.substr(indexAt, footerAt - indexAt);
    putBE64(frame, kBlocksAt + 2 * 16, index.blocks[2].offset - 1);
    resum(frame);
    putObject(store, key, object.substr(0, indexAt) + frame + object.substr(footerAt));
    CHECK(readerError(store, key) == prefix + "snapshot index: block 2 (object byte " +
                                         std::to_string(index.blocks[2].offset - 1) +
                                         ") does not start where the one before ends (" +
                                         std::to_string(index.blocks[2].offset) +
                                         "): blocks must be contiguous from 0");
    // A byte between the last block and the index: the footer still finds the index.
    putObject(store, key,
              object.substr(0, indexAt) + "x" + object.substr(indexAt, footerAt - indexAt) +
                  encodeSnapshotFooter(indexAt + 1));
    CHECK(readerError(store, key) == prefix + "the blocks end at object byte " +
                                         std::to_string(indexAt) + ", the index starts at " +
                                         std::to_string(indexAt + 1));
  }
  SUBCASE("a lying block count") {
    std::string frame = object.substr(indexAt, footerAt - indexAt);
    putBE64(frame, kBlockCountAt, uint64_t{1} << 62);
    resum(frame);
    putObject(store, key, object.substr(0, indexAt) + frame + object.substr(footerAt));
    CHECK(readerError(store, key) ==
          prefix + "snapshot index: block count " + std::to_string(uint64_t{1} << 62) +
              " does not match the " + std::to_string(index.blocks.size() * 16) +
              " bytes of block fields (16 each)");
  }
}

TEST_CASE("snapshot object reader: a block must declare its size and carry a content checksum") {
  TempDir dir;
  const std::string image = realDatabaseImage(dir, 1024).substr(0, 3 * 1024);
  storage::DirectoryStore store(dir.file("store"));
  const std::string key = snapshotKey(kGeneration, 3);
  writeFileAtomic(dir.file("pages"), image);
  // Frames of the lz4 tool: the second is what lz4Compress writes; the others lack a piece.
  for (const auto& [options, expected] :
       std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"--no-frame-crc", "--content-size"}, "its LZ4 frame has no content checksum"},
           {{"--content-size"}, ""},
           {{}, "its LZ4 frame declares no size of content, its pages are 3072"}}) {
    CAPTURE(expected);
    std::vector<std::string> argv = {lz4ToolPath(), "-z", "-f", "-q"};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back(dir.file("pages"));
    argv.push_back(dir.file("pages.lz4"));
    REQUIRE(runToCompletion(argv, dir.file("lz4")).exitCode == 0);
    const std::string block = readFile(dir.file("pages.lz4"));
    SnapshotIndex index;
    index.position = {kGeneration, 3, 0};
    index.pageSize = 1024;
    index.pageCount = 3;
    index.pagesPerBlock = 4;
    index.blocks = {{0, block.size()}};
    putObject(store, key, block + encodeSnapshotIndex(index) + encodeSnapshotFooter(block.size()));
    SnapshotObjectReader reader(store, key);
    const std::string error = errorOf([&] { reader.readBlock(0); });
    if (expected.empty()) {
      CHECK(reader.readBlock(0) == image);
    } else {
      CHECK(error ==
            "snapshot object " + key + ": block 0 (object byte 0), pages 1-3: " + expected);
    }
  }
}
