#include "client/followed_db.h"

#include <unistd.h>

#include <cerrno>

#include "core/error.h"
#include "core/file_util.h"
#include "core/log.h"

namespace walstream::client {

namespace {
constexpr std::string_view kPrefix = "db=";
}  // namespace

std::string followedDbPath(const std::string& localPath) {
  return localPath + "-walstream/db";
}

std::optional<std::string> loadFollowedDb(const std::string& path) {
  if (!pathExists(path)) return std::nullopt;
  std::string text = readFile(path);
  if (text.rfind(kPrefix, 0) != 0 || text.size() < kPrefix.size() + 2 || text.back() != '\n' ||
      text.find('\n') != text.size() - 1) {
    log::warn(path + " is malformed; ignoring it");
    return std::nullopt;
  }
  return text.substr(kPrefix.size(), text.size() - kPrefix.size() - 1);
}

void saveFollowedDb(const std::string& path, const std::string& name) {
  if (name.empty() || name.find('\n') != std::string::npos) {
    throw Error("cannot record the database name \"" + name + "\" in " + path);
  }
  makeDirs(dirName(path));
  writeFileAtomic(path, std::string(kPrefix) + name + "\n");
}

void forgetFollowedDb(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) throwErrno("cannot remove", path);
}

}  // namespace walstream::client
