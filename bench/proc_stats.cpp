#include "bench/proc_stats.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>

#include "core/error.h"

namespace walstream::bench {

namespace {

std::string procPath(pid_t pid, const char* file) {
  return "/proc/" + std::to_string(pid) + "/" + file;
}

uint64_t statusFieldKiB(pid_t pid, const std::string& field) {
  const std::string path = procPath(pid, "status");
  std::ifstream in(path);
  if (!in) throw Error("cannot read " + path + ": the process is gone");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      std::istringstream fields(line.substr(field.size() + 1));
      uint64_t kib = 0;
      if (fields >> kib) return kib;
      break;
    }
  }
  throw Error("no " + field + " in " + path);
}

}  // namespace

double cpuSeconds(pid_t pid) {
  const std::string path = procPath(pid, "stat");
  std::ifstream in(path);
  std::string stat;
  if (!in || !std::getline(in, stat)) throw Error("cannot read " + path + ": the process is gone");
  // The command name (field 2) is in parentheses and may hold spaces; fields after it are
  // space-separated, starting with field 3 (state). utime and stime are fields 14 and 15.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) throw Error("malformed " + path + ": " + stat);
  std::istringstream fields(stat.substr(close + 1));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int n = 3; n <= 15 && fields >> field; ++n) {
    if (n == 14) utime = std::stoull(field);
    if (n == 15) stime = std::stoull(field);
  }
  if (!fields) throw Error("malformed " + path + ": " + stat);
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

uint64_t peakRssKiB(pid_t pid) {
  return statusFieldKiB(pid, "VmHWM");
}

uint64_t rssKiB(pid_t pid) {
  return statusFieldKiB(pid, "VmRSS");
}

}  // namespace walstream::bench
