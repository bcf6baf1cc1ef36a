// Request targets and the /stream request as the primary takes it: the protocol's request
// (proto/stream_request.h) and which served database it names.
//
// Every rejection is an HttpError: 400 for a malformed query or a missing `db` when several
// databases are served, 404 for a database that is not served.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "proto/stream_request.h"

namespace walstream::server {

// How a served database may be named in a request.
struct ServedName {
  std::string name;          // file name, e.g. "app.db"
  std::string path;          // as given on the command line
  std::string absolutePath;  // absolute and lexically normalized
};

// A /stream request, its database resolved.
struct StreamQuery {
  size_t database = 0;  // index into the served names
  proto::StreamRequest request;
};

struct RequestTarget {
  std::string_view path;
  std::string_view query;  // without the '?'
};
RequestTarget splitTarget(std::string_view target);

// Finds a served database by file name, by the path given on the command line, or by its
// absolute path. Never touches the file system. Throws HttpError(404) when none matches.
size_t resolveDatabase(std::string_view nameOrPath, const std::vector<ServedName>& served);

// The database a request names with db=NAME, or, with none ("" here), the only one served.
// Throws HttpError: 400 when none is named and several are served, 404 when none matches.
size_t requestedDatabase(std::string_view db, const std::vector<ServedName>& served);

StreamQuery parseStreamQuery(std::string_view query, const std::vector<ServedName>& served);

// The absolute, lexically normalized form of a path (relative to the current directory).
std::string absoluteNormalPath(const std::string& path);

}  // namespace walstream::server
