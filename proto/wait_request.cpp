#include "proto/wait_request.h"

#include <charconv>
#include <nlohmann/json.hpp>

#include "proto/query_string.h"

namespace walstream::proto {

namespace {

Pos requestedPos(const std::string& text) {
  if (text.empty()) {
    throw WaitRequestError(
        "missing pos: want pos=GENERATION/INDEX:OFFSET, 16 lowercase hex "
        "digits each (as /sync or /pos on the primary answers it)");
  }
  if (text.size() > 64) {
    throw WaitRequestError("invalid position " + quoteQueryValue(text) +
                           ": want GENERATION/INDEX:OFFSET, 16 lowercase hex digits each");
  }
  try {
    return parsePos(text);
  } catch (const Error& e) {
    throw WaitRequestError(e.what());
  }
}

}  // namespace

std::optional<std::chrono::milliseconds> parseWaitTimeout(std::string_view text) {
  uint64_t unit = 0;
  std::string_view digits;
  if (text == "0") return std::chrono::milliseconds(0);
  if (text.size() > 2 && text.substr(text.size() - 2) == "ms") {
    unit = 1;
    digits = text.substr(0, text.size() - 2);
  } else if (text.size() > 1 && text.back() == 's') {
    unit = 1000;
    digits = text.substr(0, text.size() - 1);
  } else {
    return std::nullopt;
  }
  if (digits.empty() || digits.size() > 9 ||
      digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  uint64_t n = 0;
  std::from_chars(digits.data(), digits.data() + digits.size(), n);
  return std::chrono::milliseconds(static_cast<int64_t>(n * unit));
}

WaitRequest parseWaitRequest(std::string_view query, const std::set<std::string>& allowed) {
  std::vector<std::pair<std::string, std::string>> params;
  try {
    params = parseQueryString(query);
  } catch (const QueryStringError& e) {
    throw WaitRequestError(e.what());
  }
  WaitRequest out;
  std::set<std::string> seen;
  for (const auto& [key, value] : params) {
    if (allowed.count(key) == 0) {
      std::string names;
      for (const std::string& a : allowed) names += (names.empty() ? "" : ", ") + a;
      throw WaitRequestError("unknown parameter " + quoteQueryValue(key) +
                             " (this endpoint takes " + names + ")");
    }
    if (!seen.insert(key).second) throw WaitRequestError("parameter " + key + " given twice");
    if (key == "db") {
      out.db = value;
    } else if (key == "pos") {
      out.pos = requestedPos(value);
    } else if (key == "timeout") {
      const auto timeout = parseWaitTimeout(value);
      if (!timeout) {
        throw WaitRequestError("invalid timeout " + quoteQueryValue(value) +
                               ": want milliseconds or seconds, e.g. 250ms or 2s");
      }
      if (*timeout > kMaxWaitTimeout) {
        throw WaitRequestError("timeout " + quoteQueryValue(value) + " is over the maximum of " +
                               waitTimeoutText(kMaxWaitTimeout));
      }
      out.timeout = *timeout;
    }
  }
  if (allowed.count("pos") != 0 && !out.pos) out.pos = requestedPos("");
  return out;
}

std::string waitTimeoutText(std::chrono::milliseconds d) {
  return d.count() % 1000 == 0 ? std::to_string(d.count() / 1000) + "s"
                               : std::to_string(d.count()) + "ms";
}

std::string positionJson(const std::string& db, const Pos& pos) {
  nlohmann::ordered_json j;
  if (!db.empty()) j["db"] = db;
  j["pos"] = pos.str();
  j["generation"] = pos.empty() ? "" : formatHex16(pos.generation);
  return j.dump() + "\n";
}

}  // namespace walstream::proto
