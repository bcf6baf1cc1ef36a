// A large WAL-mode database for the bootstrap scenario: one table of 1000-byte random
// (incompressible) blobs, four to a 4 KiB page, written without a journal for speed and then
// switched to WAL mode with an empty WAL, and made durable.
#pragma once

#include <cstdint>
#include <string>

namespace walstream::bench {

// Creates `path` with at least `bytes` of pages; returns the file's size.
uint64_t createBulkDatabase(const std::string& path, uint64_t bytes);

// Whether two such databases have the same page count, rows and payload bytes: a quick check
// that a copy (a bootstrapped replica, a restore) is complete.
bool sameBulkContent(const std::string& a, const std::string& b);

}  // namespace walstream::bench
