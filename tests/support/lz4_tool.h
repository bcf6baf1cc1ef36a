// The lz4 command-line tool (Debian package lz4, installed by `make deps`), for tests that check
// that walstream's files are what the tool reads and writes.
#pragma once

#include <string>
#include <vector>

namespace walstream::test {

// Its path; "" when it is not installed.
std::string lz4ToolPath();

// What `lz4 -dc FILE` writes, or for several files `cat FILE... | lz4 -dc`: the frames
// decompressed in order, skippable frames skipped. Throws Error naming the exit code and the
// tool's stderr when it fails, or when the tool is not installed. `logPrefix`: where its output
// goes (a path in the test's directory).
std::string lz4DecompressFiles(const std::vector<std::string>& paths, const std::string& logPrefix);

}  // namespace walstream::test
