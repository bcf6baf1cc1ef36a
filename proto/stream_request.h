// The /stream request: what a replica asks of a primary, as a request target.
//
//   GET /stream?db=NAME&pos=POS&checksum=HEX16&heartbeat=MS&compress=1&index-ends=1&continues=1
//
// Every parameter is optional (docs/wire-format.md describes each). The query is parsed as
// proto/query_string.h says: the first occurrence of a parameter wins, unknown parameters are
// ignored (but must still decode). Older spellings are accepted, never written: `path=` for
// `db=`, and `generation=G&index=I` (I in 1 to 16 hex digits) for `pos=G/I:0`.
//
// Which database `db` names is the primary's business (server/query.h): here it is only text.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/pos.h"
#include "core/wal_format.h"

namespace walstream::proto {

inline constexpr std::string_view kStreamPath = "/stream";

struct StreamRequest {
  // The database, by file name, by the path the primary was given, or by absolute path; empty
  // when the client names none (the primary must serve exactly one then).
  std::string db;
  // Writes the database as `path=`, the original protocol's name for it (docs/wire-format.md
  // §9), instead of `db=`; set by parsing when the query named it so.
  bool dbAsPath = false;
  Pos pos;  // empty: start with a snapshot
  // Opt-in resume check: the WAL running checksum at `pos` as the client computed it.
  std::optional<Checksum> checksum;
  // Opt-in heartbeat records at this interval (proto/heartbeat_bounds.h); zero when off.
  std::chrono::milliseconds heartbeat{0};
  // Opt-in LZ4-compressed snapshot payload.
  bool compress = false;
  // Opt-in index-end records (proto/stream_record.h) before each index change.
  bool indexEnds = false;
  // Opt-in continuation into a generation that a promotion started at `pos`
  // (docs/wire-format.md §2.3, proto/stream_record.h kContinuesHeader).
  bool continues = false;

  // The request target, "/stream?..." with every value percent-encoded; parse() of its query
  // gives this request back.
  std::string target() const;

  friend bool operator==(const StreamRequest&, const StreamRequest&) = default;
};

// A parsed query: the request, or why the query is malformed (the primary answers 400 with it;
// request values in it are quoted at most 64 bytes long).
struct ParsedStreamRequest {
  std::optional<StreamRequest> request;
  std::string error;  // set when `request` is not
};

// Parses the query of a /stream target (the part after '?').
ParsedStreamRequest parseStreamRequest(std::string_view query);

}  // namespace walstream::proto
