#include "proto/http/bearer_tokens.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cctype>

#include "core/error.h"
#include "core/file_util.h"

namespace walstream::httpd {

namespace {

BearerTokens::Digest digestOf(std::string_view text) {
  BearerTokens::Digest digest{};
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest.data(), &size, EVP_sha256(), nullptr) != 1 ||
      size != digest.size()) {
    throw Error("cannot compute a SHA-256 digest");
  }
  return digest;
}

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// The text of a token file; the error names it as one.
std::string readTokenFile(const std::string& file) {
  try {
    return readFile(file);
  } catch (const Error& e) {
    throw Error(std::string("token file: ") + e.what());
  }
}

std::vector<BearerTokens::Digest> loadDigests(const std::string& file) {
  std::vector<BearerTokens::Digest> digests;
  for (const std::string& token : parseTokenFile(readTokenFile(file), file)) {
    digests.push_back(digestOf(token));
  }
  if (digests.empty()) throw Error("the token file " + file + " holds no token");
  return digests;
}

}  // namespace

std::vector<std::string> parseTokenFile(std::string_view text, const std::string& file) {
  std::vector<std::string> tokens;
  size_t lineNumber = 0;
  while (!text.empty()) {
    ++lineNumber;
    const size_t end = text.find('\n');
    const std::string_view line = trimmed(text.substr(0, end));
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    if (line.empty() || line.front() == '#') continue;
    for (const char c : line) {
      if (std::isspace(static_cast<unsigned char>(c)) ||
          std::iscntrl(static_cast<unsigned char>(c))) {
        throw Error("the token file " + file + " line " + std::to_string(lineNumber) +
                    ": a token holds a blank or a control character");
      }
    }
    tokens.emplace_back(line);
  }
  return tokens;
}

std::string readUpstreamToken(const std::string& file) {
  const std::vector<std::string> tokens = parseTokenFile(readTokenFile(file), file);
  if (tokens.empty()) throw Error("the token file " + file + " holds no token");
  return tokens.front();
}

BearerTokens::BearerTokens(std::string file)
    : file_(std::move(file)), digests_(loadDigests(file_)) {}

void BearerTokens::reload() {
  auto fresh = loadDigests(file_);
  std::lock_guard lock(mu_);
  digests_ = std::move(fresh);
}

size_t BearerTokens::count() const {
  std::lock_guard lock(mu_);
  return digests_.size();
}

bool BearerTokens::authorizes(std::string_view authorization) const {
  // The scheme is case-insensitive (RFC 9110, 11.1); the token is what follows the blanks.
  constexpr std::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size()) return false;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != kScheme[i]) return false;
  }
  const Digest presented = digestOf(trimmed(authorization.substr(kScheme.size())));
  std::lock_guard lock(mu_);
  // Every digest is compared, whichever matches: the time taken does not depend on which.
  int matches = 0;
  for (const Digest& d : digests_) {
    matches |= CRYPTO_memcmp(d.data(), presented.data(), d.size()) == 0 ? 1 : 0;
  }
  return matches != 0;
}

}  // namespace walstream::httpd
