#include "server/capture/shadow_wal.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>

#include "core/error.h"
#include "core/file_util.h"
#include "core/lz4_codec.h"

namespace walstream {

namespace {

constexpr std::string_view kSegmentSuffix = ".wal.lz4";

// makeDurable syncs up to this many segments file by file, more with one syncfs.
constexpr size_t kPerFileSyncLimit = 8;

// Names that are not 16 hex digits (temporary files, stray files) are skipped, not fatal:
// a tmp file left by a crash must not stop a listing.
std::optional<uint64_t> hexName(const std::string& name, std::string_view suffix = {}) {
  if (name.size() != 16 + suffix.size()) return std::nullopt;
  if (name.compare(16, suffix.size(), suffix) != 0) return std::nullopt;
  try {
    return parseHex16(std::string_view(name).substr(0, 16), "name");
  } catch (const Error&) {
    return std::nullopt;
  }
}

// mkdir -p that also fsyncs the parent of every directory it creates: a segment made durable in
// a new directory is only reachable after a crash if the directory's own entry is durable too.
void makeDirsDurable(FileSystem& fs, const std::string& path) {
  if (pathExists(path)) return;
  const std::string parent = dirName(path);
  if (parent != path) makeDirsDurable(fs, parent);
  fs.makeDirs(path);  // the parent exists: this creates one directory
  fs.fsyncDir(parent);
}

std::vector<uint64_t> hexNames(const std::string& dir) {
  std::vector<uint64_t> out;
  for (const auto& n : listDir(dir)) {
    if (auto v = hexName(n)) out.push_back(*v);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::string ShadowWal::generationDir(uint64_t gen) const {
  return root_ + "/generations/" + formatHex16(gen);
}

std::string ShadowWal::indexDir(uint64_t gen, uint64_t index) const {
  return generationDir(gen) + "/wal/" + formatHex16(index);
}

std::string ShadowWal::segmentPath(const Pos& pos) const {
  return indexDir(pos.generation, pos.index) + "/" + formatHex16(pos.offset) +
         std::string(kSegmentSuffix);
}

void ShadowWal::createDirs(const std::string& dir) const {
  makeDirsDurable(*fs_, dir);
}

std::vector<uint64_t> ShadowWal::listGenerations() const {
  return hexNames(root_ + "/generations");
}

std::vector<uint64_t> ShadowWal::listIndexes(uint64_t gen) const {
  return hexNames(generationDir(gen) + "/wal");
}

std::vector<SegmentInfo> ShadowWal::listSegments(uint64_t gen, uint64_t index) const {
  std::vector<SegmentInfo> out;
  const std::string dir = indexDir(gen, index);
  std::vector<uint64_t> files;
  for (const auto& n : listDir(dir)) {
    if (auto off = hexName(n, kSegmentSuffix)) files.push_back(*off);
  }
  std::sort(files.begin(), files.end());
  for (uint64_t fileOffset : files) {
    const std::string path = segmentPath({gen, index, fileOffset});
    UniqueFd fd = openFileIfExists(path, O_RDONLY);
    if (!fd.valid()) continue;  // removed by retention meanwhile
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) throwErrno("cannot stat", path);
    const uint64_t size = static_cast<uint64_t>(st.st_size);
    const int64_t writtenAtMs =
        int64_t{st.st_mtim.tv_sec} * 1000 + int64_t{st.st_mtim.tv_nsec} / 1000000;
    uint64_t walOffset = fileOffset;
    for (uint64_t at = 0; at < size;) {
      SegmentInfo info;
      info.pos = {gen, index, walOffset};
      info.fileOffset = fileOffset;
      info.byteOffset = at;
      info.capturedAtMs = writtenAtMs;
      const auto extent = lz4FrameExtent([&](uint64_t off, uint8_t* buf, size_t n) -> size_t {
        if (at + off >= size) return 0;
        return preadFull(fd.get(), buf, std::min<uint64_t>(n, size - at - off), at + off, path);
      });
      const bool whole = extent && extent->bytes <= size - at && extent->contentSize;
      info.size = whole ? extent->bytes : size - at;
      info.walBytes = whole ? *extent->contentSize : 0;
      out.push_back(std::move(info));
      if (!whole) break;  // damaged: reading this segment reports it
      at += extent->bytes;
      walOffset += *extent->contentSize;
    }
  }
  return out;
}

std::vector<SegmentInfo> ShadowWal::listSegmentsFrom(const Pos& from) const {
  std::vector<SegmentInfo> out;
  for (uint64_t index : listIndexes(from.generation)) {
    if (index < from.index) continue;
    for (auto& s : listSegments(from.generation, index)) {
      if (index == from.index && s.pos.offset < from.offset) continue;
      out.push_back(std::move(s));
    }
  }
  return out;
}

SegmentInfo ShadowWal::writeSegment(const Pos& pos, std::string compressed, uint64_t walBytes,
                                    SpareFile* spare) const {
  SegmentInfo info = newSegment(pos, std::move(compressed), walBytes);
  storeSegments({&info, 1}, spare);
  return info;
}

SegmentInfo ShadowWal::newSegment(const Pos& pos, std::string compressed, uint64_t walBytes) {
  SegmentInfo info;
  info.pos = pos;
  info.size = compressed.size();
  info.walBytes = walBytes;
  info.fileOffset = pos.offset;
  info.data = std::make_shared<const std::string>(std::move(compressed));
  info.capturedAtMs = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  return info;
}

void ShadowWal::storeSegments(std::span<SegmentInfo> segments, SpareFile* spare) const {
  if (segments.empty()) return;
  const Pos first = segments.front().pos;
  uint64_t byteOffset = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    const SegmentInfo& seg = segments[i];
    if (!seg.data) throw Error("segment " + seg.pos.str() + " has no data to store");
    if (i > 0 && (seg.pos.generation != first.generation || seg.pos.index != first.index ||
                  seg.pos.offset != segments[i - 1].pos.offset + segments[i - 1].walBytes)) {
      throw Error("segment " + seg.pos.str() + " does not follow " + segments[i - 1].pos.str() +
                  " in one segment file");
    }
  }
  const std::string dir = indexDir(first.generation, first.index);
  const std::string path = segmentPath(first);
  makeDirsDurable(*fs_, dir);
  SpareFile file;
  const bool reused = spare && spare->fd.valid();
  if (reused) {
    file = std::move(*spare);
  } else {
    file.path = path + ".tmp";
    file.fd = fs_->openFile(file.path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  }
  try {
    for (SegmentInfo& seg : segments) {
      fs_->writeFull(file.fd.get(), seg.data->data(), seg.data->size(), file.path);
      seg.fileOffset = first.offset;
      seg.byteOffset = byteOffset;
      byteOffset += seg.data->size();
    }
    // A pooled file keeps its old length (segment_file_pool.h): bytes past ours must go.
    if (reused) fs_->ftruncate(file.fd.get(), byteOffset, file.path);
    file.fd.reset();
    fs_->rename(file.path, path);
  } catch (const Error&) {
    // A partial file never gets the segment's name; the first failure is the one reported.
    file.fd.reset();
    try {
      fs_->unlink(file.path);
    } catch (const Error&) {
    }
    throw;
  }
}

bool ShadowWal::syncFailedIn(uint64_t generation) const {
  std::lock_guard lock(mu_);
  return syncFailed_.contains(generation);
}

void ShadowWal::makeDurable(const std::vector<Pos>& segments) const {
  if (segments.empty()) return;
  // Only a failed sync call is a ShadowSyncError; failing to open a file to sync it is not.
  auto sync = [&](const std::string& what, const std::function<void()>& call) {
    try {
      call();
    } catch (const Error& e) {
      {
        std::lock_guard lock(mu_);
        for (const Pos& p : segments) syncFailed_.insert(p.generation);
      }
      throw ShadowSyncError(std::string(e.what()) + " (" + what +
                            "; what it covered cannot be trusted to be on disk any more)");
    }
  };
  // Each fdatasync ends with a device cache flush even when the journal commit it needed was
  // already made, so per-file syncs cost about one flush per segment (500 segments: 57 ms on
  // the machine measured), while one syncfs writes back and commits everything at once (9 ms).
  // syncfs also writes back other dirty data of the file system, which a few files do not
  // justify.
  if (segments.size() > kPerFileSyncLimit) {
    sync("syncing shadow WAL segments", [&] { fs_->syncFileSystem(root_); });
    return;
  }
  for (const Pos& p : segments) {
    const std::string path = segmentPath(p);
    UniqueFd fd = fs_->openFileIfExists(path, O_RDONLY);
    if (fd.valid()) sync("syncing a shadow WAL segment", [&] { fs_->fdatasync(fd.get(), path); });
  }
  // Then the names: one fsync per index directory involved (almost always one).
  std::vector<std::pair<uint64_t, uint64_t>> dirs;
  for (const Pos& p : segments) {
    if (dirs.empty() || dirs.back() != std::pair{p.generation, p.index}) {
      dirs.emplace_back(p.generation, p.index);
    }
  }
  for (const auto& [gen, index] : dirs) {
    const std::string dir = indexDir(gen, index);
    if (pathExists(dir)) sync("syncing a shadow WAL index directory", [&] { fs_->fsyncDir(dir); });
  }
}

void ShadowWal::removeSegmentsFrom(const Pos& from) const {
  std::optional<uint64_t> lastFile;
  for (const SegmentInfo& s : listSegments(from.generation, from.index)) {
    if (s.pos.offset < from.offset) continue;
    if (s.fileOffset == lastFile) continue;
    lastFile = s.fileOffset;
    const std::string path = segmentPath({from.generation, from.index, s.fileOffset});
    if (s.byteOffset == 0) {
      fs_->unlink(path);
    } else {
      fs_->truncate(path, s.byteOffset);
      UniqueFd fd = fs_->openFile(path, O_RDONLY);
      fs_->fsync(fd.get(), path);
    }
  }
  fs_->fsyncDir(indexDir(from.generation, from.index));
}

std::string ShadowWal::readSegmentData(const SegmentInfo& segment) const {
  if (segment.data) return *segment.data;
  return std::move(readSegmentRun({&segment, 1}).front());
}

std::vector<std::string> ShadowWal::readSegmentRun(std::span<const SegmentInfo> run) const {
  std::vector<std::string> out;
  if (run.empty()) return out;
  const SegmentInfo& first = run.front();
  const uint64_t start = first.byteOffset;
  const uint64_t end = run.back().byteOffset + run.back().size;
  for (size_t i = 1; i < run.size(); ++i) {
    if (run[i].pos.generation != first.pos.generation || run[i].pos.index != first.pos.index ||
        run[i].fileOffset != first.fileOffset ||
        run[i].byteOffset != run[i - 1].byteOffset + run[i - 1].size) {
      throw Error("segment " + run[i].pos.str() + " does not follow " + run[i - 1].pos.str() +
                  " in its segment file");
    }
  }
  const std::string path = segmentPath({first.pos.generation, first.pos.index, first.fileOffset});
  UniqueFd fd = openFile(path, O_RDONLY);
  std::string bytes(end - start, '\0');
  if (preadFull(fd.get(), bytes.data(), bytes.size(), start, path) != bytes.size()) {
    throw Error("segments from " + first.pos.str() + " in " + path + " are truncated");
  }
  out.reserve(run.size());
  for (const SegmentInfo& s : run) out.push_back(bytes.substr(s.byteOffset - start, s.size));
  return out;
}

std::string ShadowWal::readSegment(const Pos& pos) const {
  for (const SegmentInfo& s : listSegments(pos.generation, pos.index)) {
    if (s.pos == pos) return readSegmentData(s);
  }
  throw Error("no shadow WAL segment starts at " + pos.str() + " (" + segmentPath(pos) +
              " or an earlier file of its index)");
}

std::optional<uint64_t> ShadowWal::readGeneration() const {
  const std::string path = root_ + "/generation";
  if (!pathExists(path)) return std::nullopt;
  std::string text = readFile(path);
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  try {
    uint64_t gen = parseHex16(text, "generation in " + path);
    if (gen == 0) return std::nullopt;  // 0 means "no generation" (pos.h)
    return gen;
  } catch (const Error&) {
    return std::nullopt;  // unreadable: the caller starts a new generation
  }
}

void ShadowWal::writeGeneration(uint64_t gen) const {
  makeDirsDurable(*fs_, root_);
  writeFileAtomic(*fs_, root_ + "/generation", formatHex16(gen) + "\n");
}

size_t ShadowWal::removeOld(uint64_t keep, uint64_t firstIndexToKeep, SegmentFilePool* pool) const {
  auto remove = [&](const std::string& dir) {
    if (pool) {
      for (const std::string& name : listDir(dir)) pool->retire(dir + "/" + name);
    }
    removeAll(dir);
  };
  size_t removed = 0;
  for (uint64_t gen : listGenerations()) {
    if (gen == keep) continue;
    for (uint64_t index : listIndexes(gen)) remove(indexDir(gen, index));
    removeAll(generationDir(gen));
    ++removed;
  }
  for (uint64_t index : listIndexes(keep)) {
    if (index >= firstIndexToKeep) break;
    remove(indexDir(keep, index));
    ++removed;
  }
  return removed;
}

}  // namespace walstream
