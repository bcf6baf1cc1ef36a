#include "tests/support/lz4_tool.h"

#include <chrono>

#include "core/error.h"
#include "core/file_util.h"
#include "tests/support/process.h"

namespace walstream::test {

std::string lz4ToolPath() {
  for (const char* p : {"/usr/bin/lz4", "/bin/lz4", "/usr/local/bin/lz4"}) {
    if (pathExists(p)) return p;
  }
  return {};
}

std::string lz4DecompressFiles(const std::vector<std::string>& paths,
                               const std::string& logPrefix) {
  const std::string tool = lz4ToolPath();
  if (tool.empty()) throw Error("the lz4 command is not installed (make deps installs it)");
  std::vector<std::string> argv = {tool, "-dc"};
  std::string concatenated;
  if (paths.size() == 1) {
    argv.push_back(paths[0]);
  } else {
    for (const std::string& path : paths) concatenated += readFile(path);
  }
  const RunResult r = runToCompletion(argv, logPrefix, std::chrono::seconds(30), concatenated);
  if (r.exitCode != 0) {
    throw Error("lz4 -dc exited with " + std::to_string(r.exitCode) + ": " + r.err);
  }
  return r.out;
}

}  // namespace walstream::test
