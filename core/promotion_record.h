// The lineage of a database promoted from a replica (docs/promotion.md §2).
//
// `walstream promote LOCAL_DB` writes it to LOCAL_DB-walstream/promoted; `walstream primary` on
// that database moves it into the first generation it starts, as generations/<G'>/lineage
// (server/capture/shadow_wal.h), and removes `promoted`. Both are the same text, one
// "key=value" per line, in this order:
//
//   position=<GEN/INDEX:OFFSET>     the replica's last applied position P in the old primary's
//                                   history (core/pos.h)
//   checksum=<16 hex digits>|-      the old primary WAL's running checksum at P (s0, s1), "-"
//                                   when the replica did not know it (right after a snapshot)
//   salts=<16 hex digits>|-         that WAL's salt-1 and salt-2, "-" with the checksum
//   db=<name>|-                     the old primary's name of the database the replica followed
//                                   (as in /stream?db=NAME), "-" when not recorded
//   promoted-at-ms=<decimal>        when promote recorded it, Unix milliseconds
//   db-file=<inode>:<size>:<mtime ns>:<ctime ns>|-
//                                   LOCAL_DB's file right after promote's checkpoint (16 hex
//                                   digits each), "-" until then; capture clears it in the
//                                   lineage when the file has changed since (docs/promotion.md
//                                   §3: only then is the new generation's 0:0 the state at P)
//
// Written atomically and durably (temp, fsync, rename, directory fsync): it is either whole or
// absent, so it carries no checksum of its own. A file that does not parse is an Error naming
// the path and the line.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/file_stamp.h"
#include "core/file_system.h"
#include "core/pos.h"
#include "core/wal_format.h"

namespace walstream {

struct PromotionRecord {
  Pos position;
  std::optional<Checksum> checksum;  // with salt1/salt2: the chain at `position`, when known
  uint32_t salt1 = 0;
  uint32_t salt2 = 0;
  std::string db;  // empty: not recorded
  int64_t promotedAtMs = 0;
  std::optional<FileStamp> dbFile;

  friend bool operator==(const PromotionRecord&, const PromotionRecord&) = default;
};

std::string formatPromotionRecord(const PromotionRecord& r);
// Throws Error naming `path` (for the message only) when the text is not a record.
PromotionRecord parsePromotionRecord(const std::string& text, const std::string& path);

// LOCAL_DB-walstream/promoted: one name for the promote command, the replica (which refuses to
// follow into a promoted database) and capture.
std::string promotedRecordPath(const std::string& dbPath);

// nullopt when the file does not exist; throws Error when it does not parse.
std::optional<PromotionRecord> loadPromotionRecord(const std::string& path);
// Atomically and durably (core/file_system.h writeFileAtomic).
void savePromotionRecord(FileSystem& fs, const std::string& path, const PromotionRecord& r);

}  // namespace walstream
