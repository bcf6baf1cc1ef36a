#include "tests/support/temp_dir.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace walstream::test {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/walstream-test-XXXXXX";
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("mkdtemp failed for " + tmpl);
  path_ = tmpl;
}

TempDir::~TempDir() {
  if (std::getenv("WALSTREAM_KEEP_TEST_DIRS")) return;  // for debugging a failed test
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::vector<std::string> TempDir::files() const {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const fs::directory_entry& e : fs::recursive_directory_iterator(path_)) {
    if (e.symlink_status().type() != fs::file_type::directory) {
      out.push_back(fs::relative(e.path(), path_).string());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace walstream::test
