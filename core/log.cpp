#include "core/log.h"

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <string>

#include "core/printable_text.h"

namespace walstream {

std::string formatRfc3339(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const std::time_t secs = system_clock::to_time_t(t);
  const auto millis = duration_cast<milliseconds>(t.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[80];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(millis));
  return buf;
}

}  // namespace walstream

namespace walstream::log {

namespace {

// A line holds at most this much of its message: a message quoting a peer's text is cut, not
// the log.
constexpr size_t kMaxMessageBytes = 64 * 1024;

void emit(std::string_view level, std::string_view message) {
  std::string line = formatRfc3339(std::chrono::system_clock::now());
  line += ' ';
  line += level;
  line += ' ';
  // Messages quote text from peers (error bodies, request targets, names): escaped here, once,
  // so that every line is one line of valid UTF-8 whatever a peer sent.
  line += printableText(message, kMaxMessageBytes);
  line += '\n';
  // Best effort: a failed log write must not take the process down.
  [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, line.data(), line.size());
}

}  // namespace

void info(std::string_view m) {
  emit("INFO", m);
}
void warn(std::string_view m) {
  emit("WARN", m);
}
void error(std::string_view m) {
  emit("ERROR", m);
}

}  // namespace walstream::log
