#include "storage/object_store.h"

#include <algorithm>
#include <cctype>

#include "core/printable_text.h"
#include "storage/directory_store.h"

namespace walstream::storage {

namespace {

constexpr std::string_view kExpected = "expected file:///ABSOLUTE/PATH";

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

}  // namespace

uint64_t ObjectStore::readInto(const std::string& key, uint64_t offset, std::span<char> out) {
  const std::string bytes = read(key, offset, out.size());
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return bytes.size();
}

std::unique_ptr<ObjectStore> openObjectStore(const std::string& url) {
  const size_t schemeEnd = url.find("://");
  if (schemeEnd == std::string::npos || schemeEnd == 0) {
    refuseUrl(url, "not a URL (" + std::string(kExpected) + ")");
  }
  if (url.find('?') != std::string::npos) refuseUrl(url, "a query is not allowed");
  if (url.find('#') != std::string::npos) refuseUrl(url, "a fragment is not allowed");
  const std::string scheme = lowerCase(std::string_view(url).substr(0, schemeEnd));
  if (scheme != "file") {
    refuseUrl(
        url, "unknown scheme '" + printableText(scheme, 64) + "' (" + std::string(kExpected) + ")");
  }
  return std::make_unique<DirectoryStore>(
      directoryOfFileUrl(url, std::string_view(url).substr(schemeEnd + 3)));
}

}  // namespace walstream::storage
