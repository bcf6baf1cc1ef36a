// A fresh directory under $TMPDIR (or /tmp), removed with its contents on destruction.
#pragma once

#include <string>
#include <vector>

namespace walstream::test {

class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Everything below the directory that is not a directory (files, links, FIFOs), as paths
  // relative to it, sorted.
  std::vector<std::string> files() const;

 private:
  std::string path_;
};

}  // namespace walstream::test
