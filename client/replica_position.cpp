#include "client/replica_position.h"

#include <cstdio>
#include <sstream>

#include "core/error.h"
#include "core/file_util.h"

namespace walstream::client {

namespace {

// The fields are padded to this many bytes before the checksum, so that every record has the
// same length (the longest field line is 50 + 1 + 16 + 1 + 16 + 1 + 5 + 3 = 93 bytes).
constexpr size_t kFieldsWidth = 112;
constexpr std::string_view kSumTag = " sum=";

uint32_t fnv1a32(std::string_view s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) h = (h ^ c) * 16777619u;
  return h;
}

std::string hex8(uint32_t v) {
  char b[9];
  std::snprintf(b, sizeof b, "%08x", v);
  return b;
}

}  // namespace

std::string formatReplicaPosition(const ReplicaPosition& p) {
  const auto& c = p.chain;
  const std::string checksum =
      p.chainKnown ? formatHex16((uint64_t{c.checksum.s0} << 32) | c.checksum.s1) : "-";
  const std::string salts = p.chainKnown ? formatHex16((uint64_t{c.salt1} << 32) | c.salt2) : "-";
  std::string fields = p.pos.str() + " " + checksum + " " + salts + " " +
                       std::to_string(c.pageSize) + (c.bigEndianChecksum ? " be" : " le");
  fields.resize(kFieldsWidth, ' ');
  return fields + std::string(kSumTag) + hex8(fnv1a32(fields)) + "\n";
}

std::optional<ReplicaPosition> parseReplicaPosition(const std::string& line) {
  std::string fields = line;
  if (const size_t at = line.rfind(kSumTag); at != std::string::npos) {
    fields = line.substr(0, at);
    std::string sum = line.substr(at + kSumTag.size());
    while (!sum.empty() && sum.back() == '\n') sum.pop_back();
    if (sum != hex8(fnv1a32(fields))) return std::nullopt;  // torn or edited
  }
  std::istringstream in(fields);
  std::string pos, checksum, salts, order, extra;
  uint32_t pageSize = 0;
  if (!(in >> pos >> checksum >> salts >> pageSize >> order) || (in >> extra)) {
    return std::nullopt;
  }
  try {
    ReplicaPosition p;
    p.pos = parsePos(pos);
    if (p.pos.empty() || !isValidPageSize(pageSize) || (order != "le" && order != "be")) {
      return std::nullopt;
    }
    p.chain.pageSize = pageSize;
    p.chain.bigEndianChecksum = order == "be";
    if (checksum == "-" && salts == "-") return p;
    const uint64_t c = parseHex16(checksum, "checksum");
    const uint64_t s = parseHex16(salts, "salts");
    p.chainKnown = true;
    p.chain.checksum = {static_cast<uint32_t>(c >> 32), static_cast<uint32_t>(c)};
    p.chain.salt1 = static_cast<uint32_t>(s >> 32);
    p.chain.salt2 = static_cast<uint32_t>(s);
    return p;
  } catch (const Error&) {
    return std::nullopt;
  }
}

std::optional<ReplicaPosition> loadReplicaPosition(const std::string& path) {
  if (!pathExists(path)) return std::nullopt;
  return parseReplicaPosition(readFile(path));
}

}  // namespace walstream::client
