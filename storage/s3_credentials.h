// The keys an S3 store signs its requests with. They are secrets: nothing prints them (not the
// store's url(), not an error message, not a log line, not /status).
#pragma once

#include <string>

namespace walstream::storage {

struct S3Credentials {
  std::string accessKeyId;
  std::string secretAccessKey;
  std::string sessionToken;  // empty unless the keys are temporary ones (STS)
};

// From AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN. Throws
// StorageError(kPermanent) naming the variables when either of the first two is unset or empty.
S3Credentials s3CredentialsFromEnvironment();

// From an INI file in the form of ~/.aws/credentials: the section [`profile`] with
// aws_access_key_id, aws_secret_access_key and optionally aws_session_token. Throws
// StorageError(kPermanent) naming the file (never quoting its lines) when it cannot be read or
// lacks the section or a key.
S3Credentials s3CredentialsFromFile(const std::string& path,
                                    const std::string& profile = "default");

}  // namespace walstream::storage
