#include "core/promotion_record.h"

#include <sstream>
#include <vector>

#include "core/error.h"
#include "core/file_util.h"

namespace walstream {

namespace {

constexpr const char* kKeys[] = {"position", "checksum",       "salts",
                                 "db",       "promoted-at-ms", "db-file"};

std::string formatStamp(const std::optional<FileStamp>& s) {
  if (!s) return "-";
  return formatHex16(s->inode) + ":" + formatHex16(s->size) + ":" + formatHex16(s->mtimeNs) + ":" +
         formatHex16(s->ctimeNs);
}

std::optional<FileStamp> parseStamp(const std::string& text) {
  if (text == "-") return std::nullopt;
  if (text.size() != 4 * 16 + 3 || text[16] != ':' || text[33] != ':' || text[50] != ':') {
    throw Error("bad db-file");
  }
  return FileStamp{parseHex16(text.substr(0, 16), "inode"), parseHex16(text.substr(17, 16), "size"),
                   parseHex16(text.substr(34, 16), "mtime"),
                   parseHex16(text.substr(51, 16), "ctime")};
}

// The values of the record's lines, in kKeys order.
std::vector<std::string> recordValues(const std::string& text, const std::string& path) {
  std::vector<std::string> values;
  std::istringstream in(text);
  std::string line;
  for (const char* key : kKeys) {
    const std::string prefix = std::string(key) + "=";
    if (!std::getline(in, line) || line.rfind(prefix, 0) != 0 || line.size() == prefix.size()) {
      throw Error(path + ": line " + std::to_string(values.size() + 1) + " is not \"" + prefix +
                  "...\"; not a promotion record");
    }
    values.push_back(line.substr(prefix.size()));
  }
  if (std::getline(in, line)) throw Error(path + ": more lines than a promotion record has");
  return values;
}

}  // namespace

std::string formatPromotionRecord(const PromotionRecord& r) {
  const std::string checksum =
      r.checksum ? formatHex16((uint64_t{r.checksum->s0} << 32) | r.checksum->s1) : "-";
  const std::string salts = r.checksum ? formatHex16((uint64_t{r.salt1} << 32) | r.salt2) : "-";
  return "position=" + r.position.str() + "\nchecksum=" + checksum + "\nsalts=" + salts +
         "\ndb=" + (r.db.empty() ? "-" : r.db) +
         "\npromoted-at-ms=" + std::to_string(r.promotedAtMs) +
         "\ndb-file=" + formatStamp(r.dbFile) + "\n";
}

PromotionRecord parsePromotionRecord(const std::string& text, const std::string& path) {
  const std::vector<std::string> v = recordValues(text, path);
  PromotionRecord r;
  try {
    r.position = parsePos(v[0]);
    if (r.position.empty()) throw Error("empty position");
    if ((v[1] == "-") != (v[2] == "-"))
      throw Error("a checksum without salts or salts without one");
    if (v[1] != "-") {
      const uint64_t c = parseHex16(v[1], "checksum");
      const uint64_t s = parseHex16(v[2], "salts");
      r.checksum = Checksum{static_cast<uint32_t>(c >> 32), static_cast<uint32_t>(c)};
      r.salt1 = static_cast<uint32_t>(s >> 32);
      r.salt2 = static_cast<uint32_t>(s);
    }
    r.db = v[3] == "-" ? "" : v[3];
    size_t used = 0;
    r.promotedAtMs = std::stoll(v[4], &used);
    if (used != v[4].size() || r.promotedAtMs < 0) throw Error("bad promoted-at-ms");
    r.dbFile = parseStamp(v[5]);
  } catch (const std::exception& e) {
    throw Error(path + ": not a promotion record: " + e.what());
  }
  return r;
}

std::string promotedRecordPath(const std::string& dbPath) {
  return dbPath + "-walstream/promoted";
}

std::optional<PromotionRecord> loadPromotionRecord(const std::string& path) {
  if (!pathExists(path)) return std::nullopt;
  return parsePromotionRecord(readFile(path), path);
}

void savePromotionRecord(FileSystem& fs, const std::string& path, const PromotionRecord& r) {
  writeFileAtomic(fs, path, formatPromotionRecord(r));
}

}  // namespace walstream
