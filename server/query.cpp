#include "server/query.h"

#include <charconv>
#include <filesystem>

#include "core/error.h"
#include "server/http_error.h"

namespace walstream::server {

namespace {

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

HttpError badRequest(const std::string& message) {
  return HttpError(400, message);
}

// A request value quoted in an error message, cut short: answers do not echo whole requests.
std::string quoteValue(std::string_view text) {
  constexpr size_t kMax = 64;
  if (text.size() <= kMax) return "\"" + std::string(text) + "\"";
  return "\"" + std::string(text.substr(0, kMax)) + "...\" (" + std::to_string(text.size()) +
         " bytes)";
}

// The older spelling gave the index in hex without padding; accept 1..16 lowercase hex digits.
uint64_t parseShortHex(std::string_view text, std::string_view what) {
  if (text.empty() || text.size() > 16) {
    throw badRequest("invalid " + std::string(what) + " " + quoteValue(text) +
                     ": want 1 to 16 lowercase hex digits");
  }
  uint64_t v = 0;
  for (char c : text) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
      throw badRequest("invalid " + std::string(what) + " " + quoteValue(text) +
                       ": want 1 to 16 lowercase hex digits");
    }
    v = (v << 4) | static_cast<uint64_t>(hexDigit(c));
  }
  return v;
}

Pos parsePosOrThrow(std::string_view text) {
  if (text.size() > 64) {
    throw badRequest("invalid position " + quoteValue(text) +
                     ": want GENERATION/INDEX:OFFSET, 16 lowercase hex digits each");
  }
  try {
    return parsePos(text);
  } catch (const Error& e) {
    throw badRequest(e.what());
  }
}

uint64_t parseHex16OrThrow(std::string_view text, std::string_view what) {
  if (text.size() > 64) {
    throw badRequest("invalid " + std::string(what) + " " + quoteValue(text) +
                     ": want 16 lowercase hex digits");
  }
  try {
    return parseHex16(text, what);
  } catch (const Error& e) {
    throw badRequest(e.what());
  }
}

// An opt-in flag: absent, empty, "0" or "false" is off; "1" or "true" is on.
bool boolParam(std::string_view key, const std::optional<std::string>& text) {
  if (!text || text->empty() || *text == "0" || *text == "false") return false;
  if (*text == "1" || *text == "true") return true;
  throw badRequest("invalid " + std::string(key) + " " + quoteValue(*text) + ": want 1 or 0");
}

std::string servedList(const std::vector<ServedName>& served) {
  std::string out;
  for (const auto& s : served) {
    if (!out.empty()) out += ", ";
    out += s.name;
  }
  return out;
}

}  // namespace

RequestTarget splitTarget(std::string_view target) {
  auto q = target.find('?');
  if (q == std::string_view::npos) return {target, {}};
  return {target.substr(0, q), target.substr(q + 1)};
}

std::string percentDecode(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      int hi = i + 2 < text.size() ? hexDigit(text[i + 1]) : -1;
      int lo = i + 2 < text.size() ? hexDigit(text[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        throw badRequest("malformed percent escape in query component " + quoteValue(text));
      }
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> parseQueryString(std::string_view query) {
  std::vector<std::pair<std::string, std::string>> out;
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view part = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (part.empty()) continue;
    auto eq = part.find('=');
    std::string_view key = part.substr(0, eq);
    std::string_view value =
        eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1);
    out.emplace_back(percentDecode(key), percentDecode(value));
  }
  return out;
}

std::string absoluteNormalPath(const std::string& path) {
  std::error_code ec;
  std::filesystem::path p = std::filesystem::absolute(path, ec);
  if (ec) p = path;
  std::string out = p.lexically_normal().string();
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

size_t resolveDatabase(std::string_view nameOrPath, const std::vector<ServedName>& served) {
  for (size_t i = 0; i < served.size(); ++i) {
    if (served[i].name == nameOrPath) return i;
  }
  for (size_t i = 0; i < served.size(); ++i) {
    if (served[i].path == nameOrPath) return i;
  }
  if (!nameOrPath.empty() && nameOrPath.front() == '/') {
    // Lexical only: the request never causes a file system lookup.
    std::string normal = absoluteNormalPath(std::string(nameOrPath));
    for (size_t i = 0; i < served.size(); ++i) {
      if (served[i].absolutePath == normal) return i;
    }
  }
  throw HttpError(404, "database " + quoteValue(nameOrPath) +
                           " is not served here (served: " + servedList(served) + ")");
}

StreamQuery parseStreamQuery(std::string_view query, const std::vector<ServedName>& served) {
  const auto params = parseQueryString(query);
  auto get = [&](std::string_view key) -> std::optional<std::string> {
    for (const auto& [k, v] : params) {
      if (k == key) return v;
    }
    return std::nullopt;
  };

  StreamQuery out;
  std::optional<std::string> db = get("db");
  if (!db || db->empty()) db = get("path");
  if (!db || db->empty()) {
    if (served.size() != 1) {
      throw badRequest("missing db: this primary serves " + std::to_string(served.size()) +
                       " databases (" + servedList(served) + "); name one with db=NAME");
    }
    out.database = 0;
  } else {
    out.database = resolveDatabase(*db, served);
  }

  const std::string posText = get("pos").value_or("");
  const std::string generationText = get("generation").value_or("");
  const std::string indexText = get("index").value_or("");
  if (!posText.empty()) out.pos = parsePosOrThrow(posText);
  if (!generationText.empty() || !indexText.empty()) {
    if (generationText.empty() || indexText.empty()) {
      throw badRequest("generation= and index= must be given together");
    }
    Pos older{parseHex16OrThrow(generationText, "generation"), parseShortHex(indexText, "index"),
              0};
    if (older.generation == 0) {
      throw badRequest("invalid generation " + quoteValue(generationText) +
                       ": generation 0 is reserved");
    }
    if (!posText.empty() && older != out.pos) {
      throw badRequest("pos=" + posText + " contradicts generation=" + generationText +
                       "&index=" + indexText);  // each at most 64 bytes: parsed above
    }
    out.pos = older;
  }

  if (auto text = get("checksum"); text && !text->empty()) {
    uint64_t v = parseHex16OrThrow(*text, "checksum");
    out.checksum = Checksum{static_cast<uint32_t>(v >> 32), static_cast<uint32_t>(v)};
  }

  if (auto text = get("heartbeat"); text && !text->empty()) {
    uint64_t ms = 0;
    auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), ms);
    if (ec != std::errc() || p != text->data() + text->size()) {
      throw badRequest("invalid heartbeat " + quoteValue(*text) + ": want milliseconds");
    }
    if (ms != 0 && (ms < static_cast<uint64_t>(kMinHeartbeat.count()) ||
                    ms > static_cast<uint64_t>(kMaxHeartbeat.count()))) {
      throw badRequest("invalid heartbeat " + quoteValue(*text) + ": want 0 (off) or " +
                       std::to_string(kMinHeartbeat.count()) + " to " +
                       std::to_string(kMaxHeartbeat.count()) + " milliseconds");
    }
    out.heartbeat = std::chrono::milliseconds(ms);
  }

  out.compress = boolParam("compress", get("compress"));
  out.indexEnds = boolParam("index-ends", get("index-ends"));
  return out;
}

}  // namespace walstream::server
