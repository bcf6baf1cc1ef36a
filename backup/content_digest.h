// A digest of a database's content, for comparing a restored database with the primary's at the
// same position (walstream verify --against, and tests): every table's rows in rowid order,
// every column's type and value, and the schema; not the file's bytes, which differ in free
// pages and page order between two databases with the same content.
#pragma once

#include <string>

namespace walstream::backup {

// 16 hex digits. Opens `path` read-only with SQLite, in one read transaction, so a database
// being written gives the digest of one committed state. Throws Error naming the path.
std::string contentDigest(const std::string& path);

}  // namespace walstream::backup
