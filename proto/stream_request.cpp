#include "proto/stream_request.h"

#include <charconv>
#include <utility>
#include <vector>

#include "core/error.h"
#include "proto/heartbeat_bounds.h"
#include "proto/query_string.h"

namespace walstream::proto {

namespace {

// A malformed value; caught by parseStreamRequest, which returns its message.
class MalformedRequest : public Error {
 public:
  using Error::Error;
};

// The older spelling gave the index in hex without padding; accept 1..16 lowercase hex digits.
uint64_t parseShortHex(std::string_view text, std::string_view what) {
  const bool valid = !text.empty() && text.size() <= 16 &&
                     text.find_first_not_of("0123456789abcdef") == std::string_view::npos;
  if (!valid) {
    throw MalformedRequest("invalid " + std::string(what) + " " + quoteQueryValue(text) +
                           ": want 1 to 16 lowercase hex digits");
  }
  uint64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v, 16);
  return v;
}

Pos parsePosValue(std::string_view text) {
  if (text.size() > 64) {
    throw MalformedRequest("invalid position " + quoteQueryValue(text) +
                           ": want GENERATION/INDEX:OFFSET, 16 lowercase hex digits each");
  }
  try {
    return parsePos(text);
  } catch (const Error& e) {
    throw MalformedRequest(e.what());
  }
}

uint64_t parseHex16Value(std::string_view text, std::string_view what) {
  if (text.size() > 64) {
    throw MalformedRequest("invalid " + std::string(what) + " " + quoteQueryValue(text) +
                           ": want 16 lowercase hex digits");
  }
  try {
    return parseHex16(text, what);
  } catch (const Error& e) {
    throw MalformedRequest(e.what());
  }
}

// An opt-in flag: absent, empty, "0" or "false" is off; "1" or "true" is on.
bool flagValue(std::string_view key, const std::optional<std::string>& text) {
  if (!text || text->empty() || *text == "0" || *text == "false") return false;
  if (*text == "1" || *text == "true") return true;
  throw MalformedRequest("invalid " + std::string(key) + " " + quoteQueryValue(*text) +
                         ": want 1 or 0");
}

std::chrono::milliseconds heartbeatValue(const std::string& text) {
  uint64_t ms = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (ec != std::errc() || p != text.data() + text.size()) {
    throw MalformedRequest("invalid heartbeat " + quoteQueryValue(text) + ": want milliseconds");
  }
  if (ms != 0 && (ms < static_cast<uint64_t>(kMinHeartbeat.count()) ||
                  ms > static_cast<uint64_t>(kMaxHeartbeat.count()))) {
    throw MalformedRequest("invalid heartbeat " + quoteQueryValue(text) + ": want 0 (off) or " +
                           std::to_string(kMinHeartbeat.count()) + " to " +
                           std::to_string(kMaxHeartbeat.count()) + " milliseconds");
  }
  return std::chrono::milliseconds(ms);
}

class QueryParams {
 public:
  explicit QueryParams(std::string_view query) : params_(parseQueryString(query)) {}

  // The first value given for `key`; nullopt when the key is absent.
  std::optional<std::string> get(std::string_view key) const {
    for (const auto& [k, v] : params_) {
      if (k == key) return v;
    }
    return std::nullopt;
  }
  // The first value given for `key`, or "" when the key is absent.
  std::string text(std::string_view key) const { return get(key).value_or(""); }

 private:
  std::vector<std::pair<std::string, std::string>> params_;
};

// pos=, or the older generation=&index= (which must agree with pos= when both are given).
Pos positionOf(const QueryParams& params) {
  const std::string posText = params.text("pos");
  const std::string generationText = params.text("generation");
  const std::string indexText = params.text("index");
  Pos pos = posText.empty() ? Pos{} : parsePosValue(posText);
  if (generationText.empty() && indexText.empty()) return pos;
  if (generationText.empty() || indexText.empty()) {
    throw MalformedRequest("generation= and index= must be given together");
  }
  const Pos older{parseHex16Value(generationText, "generation"), parseShortHex(indexText, "index"),
                  0};
  if (older.generation == 0) {
    throw MalformedRequest("invalid generation " + quoteQueryValue(generationText) +
                           ": generation 0 is reserved");
  }
  if (!posText.empty() && older != pos) {
    throw MalformedRequest("pos=" + posText + " contradicts generation=" + generationText +
                           "&index=" + indexText);  // each at most 64 bytes: parsed above
  }
  return older;
}

StreamRequest parseOrThrow(std::string_view query) {
  const QueryParams params(query);
  StreamRequest out;
  out.db = params.text("db");
  if (out.db.empty()) {
    out.db = params.text("path");
    out.dbAsPath = !out.db.empty();
  }
  out.pos = positionOf(params);
  if (const std::string text = params.text("checksum"); !text.empty()) {
    const uint64_t v = parseHex16Value(text, "checksum");
    out.checksum = Checksum{static_cast<uint32_t>(v >> 32), static_cast<uint32_t>(v)};
  }
  if (const std::string text = params.text("heartbeat"); !text.empty()) {
    out.heartbeat = heartbeatValue(text);
  }
  out.compress = flagValue("compress", params.get("compress"));
  out.indexEnds = flagValue("index-ends", params.get("index-ends"));
  out.continues = flagValue("continues", params.get("continues"));
  return out;
}

}  // namespace

std::string StreamRequest::target() const {
  std::string t = std::string(kStreamPath) + "?";
  if (!db.empty()) t += (dbAsPath ? "path=" : "db=") + percentEncode(db) + "&";
  t += "pos=" + pos.str();
  if (checksum) t += "&checksum=" + formatHex16((uint64_t{checksum->s0} << 32) | checksum->s1);
  t += "&heartbeat=" + std::to_string(heartbeat.count());
  if (compress) t += "&compress=1";
  if (indexEnds) t += "&index-ends=1";
  if (continues) t += "&continues=1";
  return t;
}

ParsedStreamRequest parseStreamRequest(std::string_view query) {
  try {
    return {parseOrThrow(query), {}};
  } catch (const QueryStringError& e) {
    return {std::nullopt, e.what()};
  } catch (const MalformedRequest& e) {
    return {std::nullopt, e.what()};
  }
}

}  // namespace walstream::proto
