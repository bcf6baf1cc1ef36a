#include "server/query.h"

#include <filesystem>

#include "proto/query_string.h"
#include "server/http_error.h"

namespace walstream::server {

namespace {

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
  throw HttpError(404, "database " + proto::quoteQueryValue(nameOrPath) +
                           " is not served here (served: " + servedList(served) + ")");
}

StreamQuery parseStreamQuery(std::string_view query, const std::vector<ServedName>& served) {
  proto::ParsedStreamRequest parsed = proto::parseStreamRequest(query);
  if (!parsed.request) throw HttpError(400, parsed.error);
  StreamQuery out{0, std::move(*parsed.request)};
  out.database = requestedDatabase(out.request.db, served);
  return out;
}

size_t requestedDatabase(std::string_view db, const std::vector<ServedName>& served) {
  if (!db.empty()) return resolveDatabase(db, served);
  if (served.size() != 1) {
    throw HttpError(400, "missing db: this primary serves " + std::to_string(served.size()) +
                             " databases (" + servedList(served) + "); name one with db=NAME");
  }
  return 0;
}

}  // namespace walstream::server
