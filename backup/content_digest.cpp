#include "backup/content_digest.h"

#include <sqlite3.h>

#include <cstdint>
#include <vector>

#include "core/error.h"
#include "core/pos.h"
#include "core/sqlite_conn.h"

namespace walstream::backup {

namespace {

// FNV-1a 64, fed field by field with a length prefix so that ("ab", "c") != ("a", "bc").
class Digest {
 public:
  void add(const void* data, size_t n) {
    addRaw(&n, sizeof n);
    addRaw(data, n);
  }
  void add(const std::string& s) { add(s.data(), s.size()); }
  uint64_t value() const { return h_; }

 private:
  void addRaw(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    for (size_t i = 0; i < n; ++i) h_ = (h_ ^ p[i]) * 0x100000001b3ULL;
  }
  uint64_t h_ = 0xcbf29ce484222325ULL;
};

// Quotes an SQL identifier.
std::string quoted(const std::string& name) {
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

void addRows(SqliteConnection& conn, const std::string& table, bool withoutRowid, Digest& d) {
  SqliteStatement rows(
      conn, "SELECT * FROM " + quoted(table) + (withoutRowid ? std::string() : " ORDER BY rowid"));
  while (rows.step()) {
    for (int i = 0; i < rows.columnCount(); ++i) {
      const int type = rows.columnType(i);
      d.add(&type, sizeof type);
      d.add(rows.columnText(i));  // a blob's bytes; a number's text form, exact for integers
    }
  }
}

}  // namespace

std::string contentDigest(const std::string& path) {
  SqliteConnection conn(path, SQLITE_OPEN_READONLY);
  conn.exec("BEGIN");
  Digest d;
  std::vector<std::pair<std::string, bool>> tables;
  {
    SqliteStatement schema(
        conn, "SELECT name, sql FROM sqlite_master WHERE type = 'table' ORDER BY name");
    while (schema.step()) {
      const std::string name = schema.columnText(0);
      const std::string sql = schema.columnText(1);
      d.add(name);
      d.add(sql);
      tables.emplace_back(name, sql.find("WITHOUT ROWID") != std::string::npos);
    }
  }
  for (const auto& [name, withoutRowid] : tables) addRows(conn, name, withoutRowid, d);
  conn.exec("COMMIT");
  return formatHex16(d.value());
}

}  // namespace walstream::backup
