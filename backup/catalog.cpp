#include "backup/catalog.h"

#include <algorithm>

#include "backup/layout.h"
#include "core/lz4_codec.h"

namespace walstream::backup {

std::vector<uint64_t> listGenerations(storage::ObjectStore& store) {
  std::vector<uint64_t> out;
  for (const std::string& name : store.listDirectories(generationsPrefix())) {
    if (auto g = parseGenerationName(name)) out.push_back(*g);
  }
  std::sort(out.begin(), out.end());
  return out;
}

GenerationListing listGeneration(storage::ObjectStore& store, uint64_t generation) {
  GenerationListing out;
  out.generation = generation;
  for (storage::ObjectInfo& info : store.list(generationPrefix(generation))) {
    if (auto s = parseSnapshotKey(info.key); s && s->generation == generation) {
      out.snapshots.push_back(
          {std::move(info.key), generation, s->index, info.size, info.modified});
    } else if (auto w = parseWalObjectKey(info.key); w && w->generation == generation) {
      out.walObjects.push_back({std::move(info.key), *w, info.size, info.modified});
    }
  }
  std::sort(out.snapshots.begin(), out.snapshots.end(),
            [](const SnapshotEntry& a, const SnapshotEntry& b) { return a.index < b.index; });
  std::sort(out.walObjects.begin(), out.walObjects.end(),
            [](const WalObjectEntry& a, const WalObjectEntry& b) {
              return sameGenerationBefore(a.start, b.start);
            });
  return out;
}

std::vector<WalObjectEntry> listWalObjectsAfter(storage::ObjectStore& store, uint64_t generation,
                                                const std::string& afterKey) {
  std::vector<WalObjectEntry> out;
  for (storage::ObjectInfo& info : store.listAfter(walPrefix(generation), afterKey)) {
    if (auto w = parseWalObjectKey(info.key); w && w->generation == generation) {
      out.push_back({std::move(info.key), *w, info.size, info.modified});
    }
  }
  return out;  // key order is position order
}

SnapshotIndex readSnapshotIndex(storage::ObjectStore& store, const std::string& key) {
  return SnapshotObjectReader(store, key).index();
}

DecodedWalObjectHeader readDecodedWalObjectHeader(storage::ObjectStore& store,
                                                  const WalObjectEntry& entry) {
  // A header of up to about 2,000 segments fits in the first read; a larger one is read whole
  // once its frame says how long it is.
  constexpr uint64_t kFirstRead = 64 * 1024;
  constexpr size_t kFrameHead = 8;  // skippable frame: magic, payload size (little-endian)
  std::string bytes = store.read(entry.key, 0, kFirstRead);
  if (bytes.size() >= kFrameHead) {
    const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
    const uint64_t payload =
        uint64_t{p[4]} | uint64_t{p[5]} << 8 | uint64_t{p[6]} << 16 | uint64_t{p[7]} << 24;
    if (kFrameHead + payload > bytes.size() && kFrameHead + payload <= entry.size) {
      bytes = store.read(entry.key, 0, kFrameHead + payload);
    }
  }
  DecodedWalObjectHeader decoded;
  try {
    decoded = decodeWalObjectHeader(asBytes(bytes));
  } catch (const Error& e) {
    throw Error(store.url() + "/" + entry.key + ": " + e.what());
  }
  if (decoded.header.start != entry.start) {
    throw Error(store.url() + "/" + entry.key + ": its header says it starts at " +
                decoded.header.start.str() + ", not where its name says");
  }
  return decoded;
}

WalObjectHeader readWalObjectHeader(storage::ObjectStore& store, const WalObjectEntry& entry) {
  return readDecodedWalObjectHeader(store, entry).header;
}

}  // namespace walstream::backup
