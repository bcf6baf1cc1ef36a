#include "cli/time_text.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <stdexcept>

#include "core/log.h"

namespace walstream::cli {

namespace {

int digits(const std::string& t, size_t at, size_t n) {
  if (at + n > t.size()) throw std::invalid_argument(t);
  int v = 0;
  for (size_t i = at; i < at + n; ++i) {
    if (t[i] < '0' || t[i] > '9') throw std::invalid_argument(t);
    v = v * 10 + (t[i] - '0');
  }
  return v;
}

void expect(const std::string& t, size_t at, const char* oneOf) {
  if (at >= t.size() || std::string(oneOf).find(t[at]) == std::string::npos) {
    throw std::invalid_argument(t);
  }
}

}  // namespace

int64_t parseRfc3339Ms(const std::string& t) {
  std::tm tm{};
  tm.tm_year = digits(t, 0, 4) - 1900;
  expect(t, 4, "-");
  tm.tm_mon = digits(t, 5, 2) - 1;
  expect(t, 7, "-");
  tm.tm_mday = digits(t, 8, 2);
  expect(t, 10, "Tt ");
  tm.tm_hour = digits(t, 11, 2);
  expect(t, 13, ":");
  tm.tm_min = digits(t, 14, 2);
  expect(t, 16, ":");
  tm.tm_sec = digits(t, 17, 2);
  if (tm.tm_mon > 11 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
      tm.tm_sec > 60) {
    throw std::invalid_argument(t);
  }
  size_t at = 19;
  int64_t ms = 0;
  if (at < t.size() && t[at] == '.') {
    size_t n = 0;
    int64_t scale = 100;
    for (++at; at < t.size() && t[at] >= '0' && t[at] <= '9'; ++at, ++n) {
      ms += (t[at] - '0') * scale;
      scale /= 10;
    }
    if (n == 0) throw std::invalid_argument(t);
  }
  int64_t offsetMinutes = 0;
  if (at < t.size() && (t[at] == 'Z' || t[at] == 'z')) {
    ++at;
  } else {
    expect(t, at, "+-");
    const int sign = t[at] == '-' ? -1 : 1;
    offsetMinutes = sign * (digits(t, at + 1, 2) * 60 + digits(t, at + 4, 2));
    expect(t, at + 3, ":");
    at += 6;
  }
  if (at != t.size()) throw std::invalid_argument(t);
  const time_t seconds = ::timegm(&tm);
  return (int64_t{seconds} - offsetMinutes * 60) * 1000 + ms;
}

std::string formatRfc3339Ms(int64_t ms) {
  return formatRfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

}  // namespace walstream::cli
