// Parsing of request targets and /stream query parameters into a typed request.
//
// Query values are percent-decoded ('+' is a space, as in HTML forms). The first occurrence of a
// parameter wins; unknown parameters are ignored. Every rejection is an HttpError: 400 for a
// malformed value or a missing `db` when several databases are served, 404 for a database that
// is not served.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/pos.h"
#include "core/wal_format.h"

namespace walstream::server {

// How a served database may be named in a request.
struct ServedName {
  std::string name;          // file name, e.g. "app.db"
  std::string path;          // as given on the command line
  std::string absolutePath;  // absolute and lexically normalized
};

// A /stream request.
struct StreamQuery {
  size_t database = 0;  // index into the served names
  Pos pos;              // empty: start with a snapshot
  // Opt-in resume check: the WAL running checksum at `pos` as the client computed it.
  std::optional<Checksum> checksum;
  // Opt-in heartbeat records at this interval; zero when not asked for.
  std::chrono::milliseconds heartbeat{0};
  // Opt-in LZ4-compressed snapshot payload.
  bool compress = false;
  // Opt-in index-end records (stream_record.h) before each index change.
  bool indexEnds = false;
};

inline constexpr std::chrono::milliseconds kMinHeartbeat{100};
inline constexpr std::chrono::milliseconds kMaxHeartbeat{3'600'000};

struct RequestTarget {
  std::string_view path;
  std::string_view query;  // without the '?'
};
RequestTarget splitTarget(std::string_view target);

// Percent-decodes one query component. Throws HttpError(400) on a malformed escape.
std::string percentDecode(std::string_view text);

// Splits "a=1&b=2" into decoded pairs, in order. Throws HttpError(400) on a malformed escape.
std::vector<std::pair<std::string, std::string>> parseQueryString(std::string_view query);

// Finds a served database by file name, by the path given on the command line, or by its
// absolute path. Never touches the file system. Throws HttpError(404) when none matches.
size_t resolveDatabase(std::string_view nameOrPath, const std::vector<ServedName>& served);

StreamQuery parseStreamQuery(std::string_view query, const std::vector<ServedName>& served);

// The absolute, lexically normalized form of a path (relative to the current directory).
std::string absoluteNormalPath(const std::string& path);

}  // namespace walstream::server
