#include "server/snapshot_compressor.h"

#include <fcntl.h>
#include <lz4frame.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <vector>

#include "core/error.h"

namespace walstream::server {

namespace {

// An anonymous file in `dir`: O_TMPFILE where supported, else mkstemp + unlink.
UniqueFd openTemporaryFile(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return UniqueFd(fd);
  std::string pattern = dir + "/.walstream-snapshot-XXXXXX";
  std::vector<char> name(pattern.begin(), pattern.end());
  name.push_back('\0');
  fd = ::mkostemp(name.data(), O_CLOEXEC);
  if (fd < 0) return UniqueFd();
  ::unlink(name.data());
  return UniqueFd(fd);
}

using CompressionContext = std::unique_ptr<LZ4F_cctx, decltype(&LZ4F_freeCompressionContext)>;

void check(size_t r, const char* what) {
  if (LZ4F_isError(r)) throw Error(std::string("lz4 ") + what + " failed: " + LZ4F_getErrorName(r));
}

}  // namespace

CompressedSnapshot compressSnapshot(SnapshotReader& snapshot, const std::string& dir,
                                    size_t chunkBytes) {
  CompressedSnapshot out;
  out.file = openTemporaryFile(dir);
  if (!out.file.valid()) {
    const char* tmp = std::getenv("TMPDIR");
    out.file = openTemporaryFile(tmp && *tmp ? tmp : "/tmp");
  }
  if (!out.file.valid())
    throwErrno("cannot create a temporary file for a compressed snapshot in", dir);
  const std::string label = "compressed snapshot of " + dir;

  LZ4F_cctx* raw = nullptr;
  check(LZ4F_createCompressionContext(&raw, LZ4F_VERSION), "context creation");
  CompressionContext ctx(raw, &LZ4F_freeCompressionContext);
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.contentSize = snapshot.size();  // lets the client size its output up front
  prefs.frameInfo.blockSizeID = LZ4F_max4MB;

  std::string buffer(std::max(LZ4F_compressBound(chunkBytes, &prefs), size_t{LZ4F_HEADER_SIZE_MAX}),
                     '\0');
  auto emit = [&](size_t n) {
    writeFull(out.file.get(), buffer.data(), n, label);
    out.size += n;
  };
  size_t n = LZ4F_compressBegin(ctx.get(), buffer.data(), buffer.size(), &prefs);
  check(n, "frame start");
  emit(n);
  uint64_t read = 0;
  for (;;) {
    std::string chunk = snapshot.read(chunkBytes);
    if (chunk.empty()) break;
    read += chunk.size();
    if (buffer.size() < LZ4F_compressBound(chunk.size(), &prefs)) {
      buffer.resize(LZ4F_compressBound(chunk.size(), &prefs));
    }
    n = LZ4F_compressUpdate(ctx.get(), buffer.data(), buffer.size(), chunk.data(), chunk.size(),
                            nullptr);
    check(n, "compression");
    emit(n);
  }
  if (read != snapshot.size()) {
    throw Error("snapshot at " + snapshot.position().str() + " ended after " +
                std::to_string(read) + " of " + std::to_string(snapshot.size()) + " bytes");
  }
  n = LZ4F_compressEnd(ctx.get(), buffer.data(), buffer.size(), nullptr);
  check(n, "frame end");
  emit(n);
  return out;
}

}  // namespace walstream::server
