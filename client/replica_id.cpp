#include "client/replica_id.h"

#include <random>

#include "core/file_util.h"
#include "core/pos.h"

namespace walstream::client {

namespace {

bool isId(const std::string& text) {
  if (text.size() != 17 || text.back() != '\n') return false;
  for (size_t i = 0; i < 16; ++i) {
    const char c = text[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

std::string loadOrCreateReplicaId(const std::string& localPath) {
  const std::string path = localPath + "-walstream/id";
  if (pathExists(path)) {
    const std::string text = readFile(path);
    if (isId(text)) return text.substr(0, 16);
  }
  std::random_device rd;
  const uint64_t id = (uint64_t{rd()} << 32) | rd();
  const std::string text = formatHex16(id);
  makeDirs(dirName(path));
  writeFileAtomic(path, text + "\n");
  return text;
}

}  // namespace walstream::client
