#include "storage/s3_location.h"

#include <map>

#include "core/printable_text.h"
#include "storage/object_key.h"
#include "storage/object_store.h"

namespace walstream::storage {

namespace {

constexpr std::string_view kExpected =
    "expected s3://BUCKET[/PREFIX][?endpoint=URL&region=REGION&force-path-style=true]";

[[noreturn]] void refuse(const std::string& url, const std::string& what) {
  throw StorageError(StorageError::Kind::kPermanent, "bad store URL '" + printableText(url, 512) +
                                                         "': " + what + " (" +
                                                         std::string(kExpected) + ")");
}

// S3's rules for bucket names, loosely: 3 to 63 of a-z 0-9 . -, starting and ending with a
// letter or digit. Anything else could not be put in a host name or path unencoded.
bool isBucketName(std::string_view name) {
  if (name.size() < 3 || name.size() > 63) return false;
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  for (char c : name) {
    if (!alnum(c) && c != '.' && c != '-') return false;
  }
  return alnum(name.front()) && alnum(name.back());
}

// Whether `path` is '/'-separated key parts (object_key.h).
bool isKeyPath(std::string_view path) {
  for (size_t start = 0;;) {
    const size_t slash = path.find('/', start);
    if (!isKeyPart(path.substr(start, slash - start))) return false;
    if (slash == std::string_view::npos) return true;
    start = slash + 1;
  }
}

// The percent-decoded value of a query parameter.
std::string decoded(const std::string& url, std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out += text[i];
      continue;
    }
    auto hex = [&](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    const int hi = i + 2 < text.size() ? hex(text[i + 1]) : -1;
    const int lo = i + 2 < text.size() ? hex(text[i + 2]) : -1;
    if (hi < 0 || lo < 0) refuse(url, "a malformed %-escape in the query");
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::map<std::string, std::string> queryParameters(const std::string& url, std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view item = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (item.empty()) continue;
    const size_t eq = item.find('=');
    const std::string name(item.substr(0, eq));
    if (name != "endpoint" && name != "region" && name != "force-path-style") {
      refuse(url, "unknown parameter '" + printableText(name, 64) + "'");
    }
    if (out.count(name)) refuse(url, "the parameter '" + name + "' is given twice");
    out[name] = eq == std::string_view::npos ? std::string() : decoded(url, item.substr(eq + 1));
  }
  return out;
}

// scheme://host[:port] without a path, query or user name; returned without a trailing '/'.
std::string checkedEndpoint(const std::string& url, std::string endpoint) {
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  const size_t schemeEnd = endpoint.find("://");
  const std::string scheme = endpoint.substr(0, schemeEnd);
  if (schemeEnd == std::string::npos || (scheme != "http" && scheme != "https")) {
    refuse(url, "the endpoint is not an http:// or https:// URL");
  }
  const std::string authority = endpoint.substr(schemeEnd + 3);
  if (authority.empty()) refuse(url, "the endpoint has no host");
  if (authority.find('@') != std::string::npos) {
    // Named without its query, which holds them.
    refuse(url.substr(0, url.find('?')) + "?endpoint=...",
           "the endpoint must not hold credentials (use the environment or a credentials file)");
  }
  if (authority.find_first_of("/?#") != std::string::npos) {
    refuse(url, "the endpoint must be scheme://host[:port], without a path");
  }
  return endpoint;
}

}  // namespace

std::string S3Location::bucketUrl() const {
  if (pathStyle) return endpoint + "/" + bucket + "/";
  const size_t hostStart = endpoint.find("://") + 3;
  return endpoint.substr(0, hostStart) + bucket + "." + endpoint.substr(hostStart) + "/";
}

std::string S3Location::objectName(std::string_view key) const {
  if (prefix.empty()) return std::string(key);
  return prefix + "/" + std::string(key);
}

S3Location parseS3Url(const std::string& url) {
  std::string_view rest = std::string_view(url).substr(url.find("://") + 3);
  if (url.find('#') != std::string::npos) refuse(url, "a fragment is not allowed");
  const size_t question = rest.find('?');
  const auto parameters = queryParameters(
      url, question == std::string_view::npos ? std::string_view() : rest.substr(question + 1));
  rest = rest.substr(0, question);
  const size_t slash = rest.find('/');
  S3Location location;
  location.bucket = std::string(rest.substr(0, slash));
  if (!isBucketName(location.bucket)) {
    refuse(url, "'" + printableText(location.bucket, 64) + "' is not a bucket name");
  }
  std::string_view prefix =
      slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  if (!prefix.empty() && !isKeyPath(prefix)) {
    refuse(url, "the prefix '" + printableText(prefix, 256) + "' is not a key");
  }
  location.prefix = std::string(prefix);
  const auto param = [&](const char* name) {
    const auto it = parameters.find(name);
    return it == parameters.end() ? std::string() : it->second;
  };
  location.region = param("region").empty() ? "us-east-1" : param("region");
  const std::string pathStyle = param("force-path-style");
  if (pathStyle != "" && pathStyle != "true" && pathStyle != "false") {
    refuse(url, "force-path-style wants true or false");
  }
  if (param("endpoint").empty()) {
    location.endpoint = "https://s3." + location.region + ".amazonaws.com";
    // A bucket name with dots does not match AWS's wildcard certificate as a host name.
    location.pathStyle = pathStyle == "true" || location.bucket.find('.') != std::string::npos;
  } else {
    location.endpoint = checkedEndpoint(url, param("endpoint"));
    location.pathStyle = pathStyle != "false";
  }
  return location;
}

std::string s3UriEncode(std::string_view text, bool keepSlash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved || (keepSlash && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace walstream::storage
