#include "backup/layout.h"

#include <string_view>

namespace walstream::backup {

namespace {

constexpr std::string_view kGenerations = "generations/";
constexpr std::string_view kSnapshots = "/snapshots/";
constexpr std::string_view kWal = "/wal/";
constexpr std::string_view kSnapshotSuffix = ".snapshot.lz4";
constexpr std::string_view kWalObjectSuffix = ".wal.lz4";
constexpr size_t kHexDigits = 16;

// Exactly 16 lowercase hex digits (what formatHex16 writes, so that each value has one key).
std::optional<uint64_t> parseHexName(std::string_view text) {
  if (text.size() != kHexDigits) return std::nullopt;
  uint64_t v = 0;
  for (const char c : text) {
    if (c >= '0' && c <= '9') {
      v = (v << 4) | static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      v = (v << 4) | static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
  }
  return v;
}

// Removes `prefix` from the front of `text`; false when it is not there.
bool consume(std::string_view& text, std::string_view prefix) {
  if (!text.starts_with(prefix)) return false;
  text.remove_prefix(prefix.size());
  return true;
}

// A 16-digit hex name at the front of `text`, removed from it.
std::optional<uint64_t> consumeHexName(std::string_view& text) {
  if (text.size() < kHexDigits) return std::nullopt;
  const std::optional<uint64_t> v = parseHexName(text.substr(0, kHexDigits));
  if (v) text.remove_prefix(kHexDigits);
  return v;
}

// "generations/<gen>" at the front of `key`, removed from it; the generation is not zero.
std::optional<uint64_t> consumeGeneration(std::string_view& key) {
  if (!consume(key, kGenerations)) return std::nullopt;
  const std::optional<uint64_t> generation = consumeHexName(key);
  if (!generation || *generation == 0) return std::nullopt;
  return generation;
}

}  // namespace

std::string generationsPrefix() {
  return std::string(kGenerations);
}

std::string generationPrefix(uint64_t generation) {
  return std::string(kGenerations) + formatHex16(generation) + "/";
}

std::string snapshotsPrefix(uint64_t generation) {
  return std::string(kGenerations) + formatHex16(generation) + std::string(kSnapshots);
}

std::string walPrefix(uint64_t generation) {
  return std::string(kGenerations) + formatHex16(generation) + std::string(kWal);
}

std::string snapshotKey(uint64_t generation, uint64_t index) {
  return snapshotsPrefix(generation) + formatHex16(index) + std::string(kSnapshotSuffix);
}

std::string walObjectKey(const Pos& start) {
  return walPrefix(start.generation) + formatHex16(start.index) + "/" + formatHex16(start.offset) +
         std::string(kWalObjectSuffix);
}

std::optional<uint64_t> parseGenerationName(const std::string& name) {
  const std::optional<uint64_t> generation = parseHexName(name);
  if (!generation || *generation == 0) return std::nullopt;
  return generation;
}

std::optional<SnapshotKey> parseSnapshotKey(const std::string& key) {
  std::string_view rest = key;
  const std::optional<uint64_t> generation = consumeGeneration(rest);
  if (!generation || !consume(rest, kSnapshots)) return std::nullopt;
  const std::optional<uint64_t> index = consumeHexName(rest);
  if (!index || rest != kSnapshotSuffix) return std::nullopt;
  return SnapshotKey{*generation, *index};
}

std::optional<Pos> parseWalObjectKey(const std::string& key) {
  std::string_view rest = key;
  const std::optional<uint64_t> generation = consumeGeneration(rest);
  if (!generation || !consume(rest, kWal)) return std::nullopt;
  const std::optional<uint64_t> index = consumeHexName(rest);
  if (!index || !consume(rest, "/")) return std::nullopt;
  const std::optional<uint64_t> offset = consumeHexName(rest);
  if (!offset || rest != kWalObjectSuffix) return std::nullopt;
  return Pos{*generation, *index, *offset};
}

}  // namespace walstream::backup
