#include "tests/support/process_usage.h"

#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace walstream::test {

namespace {

// A "Key: N kB" field of /proc/PID/status, in KiB; 0 when absent or the process is gone.
uint64_t statusKiB(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string key;
  while (in >> key) {
    if (key == field) {
      uint64_t kib = 0;
      in >> kib;
      return kib;
    }
    in.ignore(1 << 16, '\n');
  }
  return 0;
}

}  // namespace

uint64_t residentKiB(pid_t pid) {
  return statusKiB(pid, "VmRSS:");
}

uint64_t peakResidentKiB(pid_t pid) {
  return statusKiB(pid, "VmHWM:");
}

uint64_t bytesRead(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/io");
  std::string key;
  uint64_t value = 0;
  while (in >> key >> value) {
    if (key == "rchar:") return value;
  }
  return 0;
}

uint64_t unlinkedOpenFileBytes(pid_t pid) {
  uint64_t total = 0;
  std::error_code ec;
  const std::filesystem::path dir = "/proc/" + std::to_string(pid) + "/fd";
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    char target[4096];
    const ssize_t n = ::readlink(entry.path().c_str(), target, sizeof target - 1);
    if (n <= 0) continue;
    const std::string link(target, static_cast<size_t>(n));
    if (link.size() < 10 || link.compare(link.size() - 10, 10, " (deleted)") != 0) continue;
    struct stat st {};
    // stat() through /proc/PID/fd/N reaches the open file itself, named or not.
    if (::stat(entry.path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      total += static_cast<uint64_t>(st.st_blocks) * 512;
    }
  }
  return total;
}

}  // namespace walstream::test
