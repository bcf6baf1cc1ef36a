#include "storage/object_key.h"

#include <algorithm>

#include "core/printable_text.h"
#include "storage/object_store.h"

namespace walstream::storage {

namespace {

constexpr std::string_view kTemporaryMarker = ".tmp-";
constexpr size_t kTemporaryHexDigits = 16;

bool isPrintableAscii(char c) {
  return c >= 0x20 && c <= 0x7e;
}

bool isLowerHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

// What is being checked: a key, or a listing's prefix.
struct Checked {
  std::string_view url;
  std::string_view noun;  // "key" or "prefix"
  std::string_view text;
};

[[noreturn]] void refuse(const Checked& c, std::string_view what) {
  throw StorageError(StorageError::Kind::kPermanent,
                     std::string(c.url) + ": bad " + std::string(c.noun) + " '" +
                         printableText(c.text, 256) + "': " + std::string(what));
}

// Empty when `part` may be a part of a key; else what is wrong with it.
std::string_view partProblem(std::string_view part) {
  if (part.empty()) return "empty path part";
  if (part == "." || part == "..") return "'.' or '..' part";
  if (!std::all_of(part.begin(), part.end(), isPrintableAscii)) {
    return "not printable ASCII";
  }
  if (isTemporaryName(part)) return "a temporary file's name";
  return {};
}

// Checks every '/'-terminated part of `path` (a key's parts but its last, or a prefix's
// directories).
void checkDirectoryParts(const Checked& c, std::string_view path) {
  if (!path.empty() && path.front() == '/') refuse(c, "starts with '/'");
  size_t start = 0;
  for (size_t slash = path.find('/'); slash != std::string_view::npos;
       slash = path.find('/', start)) {
    if (auto problem = partProblem(path.substr(start, slash - start)); !problem.empty()) {
      refuse(c, problem);
    }
    start = slash + 1;
  }
}

}  // namespace

bool isKeyPart(std::string_view part) {
  return partProblem(part).empty();
}

bool isTemporaryName(std::string_view name) {
  const size_t suffix = kTemporaryMarker.size() + kTemporaryHexDigits;
  if (name.size() < 2 + suffix || name.front() != '.') return false;
  const std::string_view tail = name.substr(name.size() - suffix);
  return tail.substr(0, kTemporaryMarker.size()) == kTemporaryMarker &&
         std::all_of(tail.begin() + kTemporaryMarker.size(), tail.end(), isLowerHex);
}

void checkKey(std::string_view url, std::string_view key) {
  const Checked c{url, "key", key};
  if (key.empty()) refuse(c, "empty");
  const size_t lastSlash = key.rfind('/');
  const size_t nameStart = lastSlash == std::string_view::npos ? 0 : lastSlash + 1;
  checkDirectoryParts(c, key.substr(0, nameStart));
  if (auto problem = partProblem(key.substr(nameStart)); !problem.empty()) refuse(c, problem);
}

void checkListPrefix(std::string_view url, std::string_view prefix) {
  const size_t lastSlash = prefix.rfind('/');
  const size_t restStart = lastSlash == std::string_view::npos ? 0 : lastSlash + 1;
  const Checked c{url, "prefix", prefix};
  checkDirectoryParts(c, prefix.substr(0, restStart));
  const std::string_view rest = prefix.substr(restStart);
  if (!std::all_of(rest.begin(), rest.end(), isPrintableAscii)) refuse(c, "not printable ASCII");
}

void checkDirectoryPrefix(std::string_view url, std::string_view prefix) {
  const Checked c{url, "prefix", prefix};
  if (!prefix.empty() && prefix.back() != '/') refuse(c, "must be empty or end with '/'");
  checkDirectoryParts(c, prefix);
}

}  // namespace walstream::storage
