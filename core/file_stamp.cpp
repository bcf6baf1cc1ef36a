#include "core/file_stamp.h"

#include <sys/stat.h>

namespace walstream {

std::optional<FileStamp> stampFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  auto ns = [](const timespec& t) {
    return static_cast<uint64_t>(t.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(t.tv_nsec);
  };
  return FileStamp{static_cast<uint64_t>(st.st_ino), static_cast<uint64_t>(st.st_size),
                   ns(st.st_mtim), ns(st.st_ctim)};
}

}  // namespace walstream
