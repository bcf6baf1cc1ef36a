#include "storage/object_store.h"

#include <algorithm>
#include <cctype>

#include "core/printable_text.h"
#include "storage/directory_store.h"
#include "storage/s3_location.h"
#include "storage/s3_store.h"

namespace walstream::storage {

namespace {

constexpr std::string_view kExpected = "expected file:///ABSOLUTE/PATH or s3://BUCKET/PREFIX";

[[noreturn]] void refuseUrl(const std::string& url, const std::string& what) {
  throw StorageError(StorageError::Kind::kPermanent,
                     "bad store URL '" + printableText(url, 512) + "': " + what);
}

std::string lowerCase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// The absolute directory of a file URL's remainder after "file://": "/ABS" or "localhost/ABS",
// without trailing slashes.
std::string directoryOfFileUrl(const std::string& url, std::string_view rest) {
  constexpr std::string_view kLocalhost = "localhost";
  if (rest.substr(0, kLocalhost.size()) == kLocalhost &&
      (rest.size() == kLocalhost.size() || rest[kLocalhost.size()] == '/')) {
    rest.remove_prefix(kLocalhost.size());
  }
  if (!rest.empty() && rest.front() != '/') {
    refuseUrl(url, "the path is relative or names a host (" + std::string(kExpected) + ")");
  }
  while (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) refuseUrl(url, "the path is empty (" + std::string(kExpected) + ")");
  return std::string(rest);
}

std::unique_ptr<ObjectStore> openS3Store(const std::string& url, const StoreOptions& options) {
  S3Location location = parseS3Url(url);
  if (options.s3PartSize < kMinS3PartSize) {
    refuseUrl(url, "the S3 part size is below S3's minimum of 5 MiB");
  }
  S3StoreOptions s3;
  s3.credentials = options.s3CredentialsFile.empty()
                       ? s3CredentialsFromEnvironment()
                       : s3CredentialsFromFile(options.s3CredentialsFile);
  s3.partSize = options.s3PartSize;
  s3.retry = options.s3Retry;
  return std::make_unique<S3Store>(url, std::move(location), s3);
}

}  // namespace

std::vector<ObjectInfo> ObjectStore::listAfter(const std::string& prefix,
                                               const std::string& startAfter) {
  std::vector<ObjectInfo> all = list(prefix);
  const auto first = std::upper_bound(
      all.begin(), all.end(), startAfter,
      [](const std::string& after, const ObjectInfo& info) { return after < info.key; });
  all.erase(all.begin(), first);
  return all;
}

uint64_t ObjectStore::readInto(const std::string& key, uint64_t offset, std::span<char> out) {
  const std::string bytes = read(key, offset, out.size());
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return bytes.size();
}

std::unique_ptr<ObjectStore> openObjectStore(const std::string& url, const StoreOptions& options) {
  const size_t schemeEnd = url.find("://");
  if (schemeEnd == std::string::npos || schemeEnd == 0) {
    refuseUrl(url, "not a URL (" + std::string(kExpected) + ")");
  }
  const std::string scheme = lowerCase(std::string_view(url).substr(0, schemeEnd));
  if (scheme == "s3") return openS3Store(url, options);
  if (url.find('?') != std::string::npos) refuseUrl(url, "a query is not allowed");
  if (url.find('#') != std::string::npos) refuseUrl(url, "a fragment is not allowed");
  if (scheme != "file") {
    refuseUrl(
        url, "unknown scheme '" + printableText(scheme, 64) + "' (" + std::string(kExpected) + ")");
  }
  return std::make_unique<DirectoryStore>(
      directoryOfFileUrl(url, std::string_view(url).substr(schemeEnd + 3)));
}

}  // namespace walstream::storage
