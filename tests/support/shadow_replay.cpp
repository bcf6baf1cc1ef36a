#include "tests/support/shadow_replay.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include "core/error.h"
#include "core/file_util.h"
#include "core/lz4_codec.h"
#include "core/sqlite_conn.h"
#include "core/wal_segment.h"
#include "server/capture/shadow_wal.h"

namespace walstream::test {

ReplayResult replayGeneration(const std::string& shadowRoot, uint64_t generation,
                              const std::string& dbCopy) {
  ShadowWal shadow(shadowRoot);
  UniqueFd fd = openFile(dbCopy, O_RDWR);
  ReplayResult r;
  std::optional<uint64_t> prevIndex;
  for (uint64_t index : shadow.listIndexes(generation)) {
    if (prevIndex && index != *prevIndex + 1) {
      throw Error("index " + formatHex16(index) + " does not follow " + formatHex16(*prevIndex));
    }
    prevIndex = index;
    ++r.indexes;
    WalChainState chain;
    uint64_t expectOffset = 0;
    for (const SegmentInfo& s : shadow.listSegments(generation, index)) {
      if (s.pos.offset != expectOffset) {
        throw Error("segment " + s.pos.str() + " is not contiguous (expected offset " +
                    std::to_string(expectOffset) + ")");
      }
      std::string raw = lz4Decompress(asBytes(shadow.readSegmentData(s)), kMaxWalSegmentBytes);
      ParsedWalSegment seg = parseWalSegment(asBytes(raw), s.pos.offset, chain);
      for (const WalTransaction& t : seg.transactions) {
        for (const WalFrameView& f : t.frames) {
          pwriteFull(fd.get(), f.page.data(), f.page.size(),
                     uint64_t{f.header.pageNumber - 1} * chain.pageSize, dbCopy);
        }
        if (::ftruncate(fd.get(), static_cast<off_t>(uint64_t{t.commitSize()} * chain.pageSize)) !=
            0) {
          throwErrno("ftruncate", dbCopy);
        }
        ++r.transactions;
      }
      expectOffset = seg.endOffset;
      r.end = {generation, index, seg.endOffset};
      ++r.segments;
    }
  }
  return r;
}

std::string dumpDatabase(const std::string& path) {
  SqliteConnection c(path, SQLITE_OPEN_READONLY);
  std::string out;
  std::vector<std::string> tables;
  {
    SqliteStatement st(c, "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name");
    while (st.step()) tables.push_back(st.columnText(0));
  }
  for (const auto& t : tables) {
    out += "table " + t + "\n";
    SqliteStatement st(c, "SELECT * FROM \"" + t + "\" ORDER BY rowid");
    while (st.step()) {
      for (int i = 0; i < st.columnCount(); ++i) {
        out += st.columnText(i);
        out += '|';
      }
      out += '\n';
    }
  }
  return out;
}

}  // namespace walstream::test
