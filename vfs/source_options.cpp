#include "vfs/source_options.h"

#include <stdexcept>

#include "core/error.h"
#include "core/quantity_text.h"

namespace walstream::vfs {

std::string SourceOptions::identity() const {
  return url + '\n' + s3CredentialsFile + '\n' + std::to_string(cacheBytes) + '\n' +
         std::to_string(poll.count());
}

SourceOptions parseSourceOptions(const UriParameter& parameter, const char* environmentBackup) {
  SourceOptions options;
  if (const char* url = parameter("backup"); url != nullptr && *url != '\0') {
    options.url = url;
  } else if (environmentBackup != nullptr && *environmentBackup != '\0') {
    options.url = environmentBackup;
  } else {
    throw Error(std::string("no backup to read: give backup=URL in the database URI or set ") +
                kBackupEnvironmentVariable);
  }
  if (const char* cache = parameter("cache-size")) {
    try {
      options.cacheBytes = parseByteSize(cache);
    } catch (const std::invalid_argument&) {
      throw Error(std::string("cache-size=") + cache + ": want a size like 64MiB, 512KiB or 0");
    }
  }
  if (const char* poll = parameter("poll")) {
    try {
      options.poll = parseDuration(poll);
    } catch (const std::invalid_argument&) {
      throw Error(std::string("poll=") + poll + ": want a duration like 1s, 250ms or 0");
    }
  }
  if (const char* file = parameter("s3-credentials")) options.s3CredentialsFile = file;
  return options;
}

}  // namespace walstream::vfs
