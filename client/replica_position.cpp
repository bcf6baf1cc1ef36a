#include "client/replica_position.h"

#include <cstdio>
#include <sstream>

#include "core/byte_order.h"
#include "core/error.h"
#include "core/file_util.h"

namespace walstream::client {

namespace {

// The fields are padded to this many bytes before the checksum, so that every record has the
// same length (the longest field line is 50 + 1 + 16 + 1 + 16 + 1 + 5 + 3 + 7 + 42 + 4 * 17 =
// 210 bytes). Records of 160 (older versions) are read too; RecordFile cuts the file to the new
// length at the first rewrite.
constexpr size_t kFieldsWidth = 240;
constexpr size_t kLocalWalChars = 42;    // <salts 16>:<mxFrame 8>:<checksum 16>
constexpr size_t kDbFileChars = 4 * 17;  // :<inode>:<size>:<mtime>:<ctime>, 16 hex digits each
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
  std::string local = "-";
  if (p.local) {
    local = formatHex16(loadBE64(p.local->salt.data())) + ":" + hex8(p.local->mxFrame) + ":" +
            formatHex16((uint64_t{p.local->frameChecksum.s0} << 32) | p.local->frameChecksum.s1);
    if (const auto& f = p.local->dbFile) {
      for (uint64_t v : {f->inode, f->size, f->mtimeNs, f->ctimeNs}) local += ":" + formatHex16(v);
    }
  }
  std::string fields = p.pos.str() + " " + checksum + " " + salts + " " +
                       std::to_string(c.pageSize) +
                       (p.chainKnown && !p.orderKnown ? " ??"
                        : c.bigEndianChecksum         ? " be"
                                                      : " le") +
                       " local=" + local;
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
  std::string pos, checksum, salts, order, local, extra;
  uint32_t pageSize = 0;
  if (!(in >> pos >> checksum >> salts >> pageSize >> order)) return std::nullopt;
  if ((in >> local) && (local.rfind("local=", 0) != 0 || (in >> extra))) return std::nullopt;
  try {
    ReplicaPosition p;
    p.pos = parsePos(pos);
    if (p.pos.empty() || !isValidPageSize(pageSize) ||
        (order != "le" && order != "be" && order != "??")) {
      return std::nullopt;
    }
    p.chain.pageSize = pageSize;
    p.chain.bigEndianChecksum = order == "be";
    p.orderKnown = order != "??";
    if (!local.empty() && local != "local=-") {
      // local=<salts 16>:<mxFrame 8>:<checksum 16>[:<inode>:<size>:<mtime>:<ctime>]
      const std::string_view v = std::string_view(local).substr(6);
      if ((v.size() != kLocalWalChars && v.size() != kLocalWalChars + kDbFileChars) ||
          v[16] != ':' || v[25] != ':') {
        return std::nullopt;
      }
      LocalWalState l;
      storeBE64(l.salt.data(), parseHex16(v.substr(0, 16), "local salts"));
      const uint64_t mx = parseHex16("00000000" + std::string(v.substr(17, 8)), "local frame");
      l.mxFrame = static_cast<uint32_t>(mx);
      const uint64_t c = parseHex16(v.substr(26, 16), "local checksum");
      l.frameChecksum = {static_cast<uint32_t>(c >> 32), static_cast<uint32_t>(c)};
      if (v.size() > kLocalWalChars) {
        uint64_t f[4];
        for (size_t i = 0; i < 4; ++i) {
          const std::string_view part = v.substr(kLocalWalChars + i * 17, 17);
          if (part[0] != ':') return std::nullopt;
          f[i] = parseHex16(part.substr(1), "local database file");
        }
        l.dbFile = DbFileStamp{f[0], f[1], f[2], f[3]};
      }
      p.local = l;
    }
    if (checksum == "-" && salts == "-") {
      if (!p.orderKnown) return std::nullopt;  // never written
      return p;
    }
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
