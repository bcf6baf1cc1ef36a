#include "client/replica_position.h"

#include <sstream>

#include "core/error.h"
#include "core/file_util.h"

namespace walstream::client {

std::string formatReplicaPosition(const ReplicaPosition& p) {
  const auto& c = p.chain;
  const std::string checksum =
      p.chainKnown ? formatHex16((uint64_t{c.checksum.s0} << 32) | c.checksum.s1) : "-";
  const std::string salts = p.chainKnown ? formatHex16((uint64_t{c.salt1} << 32) | c.salt2) : "-";
  return p.pos.str() + " " + checksum + " " + salts + " " + std::to_string(c.pageSize) +
         (c.bigEndianChecksum ? " be" : " le") + "\n";
}

std::optional<ReplicaPosition> parseReplicaPosition(const std::string& line) {
  std::istringstream in(line);
  std::string pos, checksum, salts, order;
  uint32_t pageSize = 0;
  if (!(in >> pos >> checksum >> salts >> pageSize >> order)) return std::nullopt;
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

void saveReplicaPosition(const std::string& path, const ReplicaPosition& p) {
  makeDirs(dirName(path));
  writeFileAtomic(path, formatReplicaPosition(p));
}

}  // namespace walstream::client
