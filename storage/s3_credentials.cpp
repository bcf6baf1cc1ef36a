#include "storage/s3_credentials.h"

#include <cstdlib>
#include <fstream>

#include "storage/object_store.h"

namespace walstream::storage {

namespace {

[[noreturn]] void refuse(const std::string& what) {
  throw StorageError(StorageError::Kind::kPermanent, "S3 credentials: " + what);
}

std::string trimmed(const std::string& text) {
  const size_t start = text.find_first_not_of(" \t\r");
  if (start == std::string::npos) return {};
  return text.substr(start, text.find_last_not_of(" \t\r") - start + 1);
}

std::string environment(const char* name) {
  const char* value = std::getenv(name);
  return value ? value : "";
}

}  // namespace

S3Credentials s3CredentialsFromEnvironment() {
  S3Credentials c{environment("AWS_ACCESS_KEY_ID"), environment("AWS_SECRET_ACCESS_KEY"),
                  environment("AWS_SESSION_TOKEN")};
  if (c.accessKeyId.empty() || c.secretAccessKey.empty()) {
    refuse(
        "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set (or name a credentials "
        "file with --s3-credentials)");
  }
  return c;
}

S3Credentials s3CredentialsFromFile(const std::string& path, const std::string& profile) {
  std::ifstream in(path);
  if (!in) refuse("cannot read " + path);
  S3Credentials c;
  bool inProfile = false;
  bool sawProfile = false;
  for (std::string line; std::getline(in, line);) {
    line = trimmed(line);
    if (line.empty() || line.front() == '#' || line.front() == ';') continue;
    if (line.front() == '[') {
      inProfile = line == "[" + profile + "]";
      sawProfile = sawProfile || inProfile;
      continue;
    }
    const size_t eq = line.find('=');
    if (!inProfile || eq == std::string::npos) continue;
    const std::string name = trimmed(line.substr(0, eq));
    const std::string value = trimmed(line.substr(eq + 1));
    if (name == "aws_access_key_id") c.accessKeyId = value;
    if (name == "aws_secret_access_key") c.secretAccessKey = value;
    if (name == "aws_session_token") c.sessionToken = value;
  }
  if (!sawProfile) refuse(path + " has no [" + profile + "] section");
  if (c.accessKeyId.empty() || c.secretAccessKey.empty()) {
    refuse(path + ": [" + profile + "] lacks aws_access_key_id or aws_secret_access_key");
  }
  return c;
}

}  // namespace walstream::storage
