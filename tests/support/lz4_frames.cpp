#include "tests/support/lz4_frames.h"

#include <lz4frame.h>

#include "core/error.h"

namespace walstream::test {

namespace {

LZ4F_blockSizeID_t blockSizeId(size_t bytes) {
  switch (bytes) {
    case size_t{64} << 10:
      return LZ4F_max64KB;
    case size_t{256} << 10:
      return LZ4F_max256KB;
    case size_t{1} << 20:
      return LZ4F_max1MB;
    case size_t{4} << 20:
      return LZ4F_max4MB;
    default:
      throw Error("no lz4 block size of " + std::to_string(bytes) + " bytes");
  }
}

}  // namespace

std::string lz4FrameOf(const std::string& data, const Lz4FrameKind& kind) {
  LZ4F_preferences_t prefs{};
  prefs.frameInfo.contentSize = kind.contentSize ? data.size() : 0;
  prefs.frameInfo.blockSizeID = blockSizeId(kind.blockSize);
  prefs.frameInfo.blockMode = kind.linkedBlocks ? LZ4F_blockLinked : LZ4F_blockIndependent;
  prefs.frameInfo.blockChecksumFlag =
      kind.blockChecksums ? LZ4F_blockChecksumEnabled : LZ4F_noBlockChecksum;
  prefs.frameInfo.contentChecksumFlag =
      kind.contentChecksum ? LZ4F_contentChecksumEnabled : LZ4F_noContentChecksum;
  std::string out(LZ4F_compressFrameBound(data.size(), &prefs), '\0');
  const size_t n = LZ4F_compressFrame(out.data(), out.size(), data.data(), data.size(), &prefs);
  if (LZ4F_isError(n)) throw Error(std::string("lz4 compression failed: ") + LZ4F_getErrorName(n));
  out.resize(n);
  return out;
}

}  // namespace walstream::test
