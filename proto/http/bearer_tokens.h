// The bearer tokens a server accepts (--token-file FILE: one token per line; blank lines and
// lines starting with # are ignored), reloadable. Only SHA-256 digests of the tokens are kept,
// and a presented token is compared, as a digest, against every one of them in constant time:
// how long a check takes tells nothing of how much of a token was right. No token is ever
// logged or shown; errors name the file and the line number only.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace walstream::httpd {

class BearerTokens {
 public:
  using Digest = std::array<uint8_t, 32>;

  // Loads the file; throws walstream::Error naming it when it is missing, unreadable or holds
  // no token.
  explicit BearerTokens(std::string file);

  // Loads the file again. On failure throws walstream::Error and the current tokens stay.
  void reload();
  // Whether `authorization` (an Authorization header's value, "" when absent) is
  // "Bearer <one of the tokens>". Thread-safe.
  bool authorizes(std::string_view authorization) const;
  size_t count() const;
  const std::string& file() const { return file_; }

 private:
  const std::string file_;
  mutable std::mutex mu_;
  std::vector<Digest> digests_;  // under mu_
};

// The tokens of a token file's text: one per line, surrounding blanks and a trailing CR dropped,
// blank lines and # comments skipped. A token holding a blank inside is an error naming its line
// (a token is sent as one word).
std::vector<std::string> parseTokenFile(std::string_view text, const std::string& file);

// The one token of a replica's --upstream-token-file (the first of parseTokenFile); throws
// walstream::Error naming the file when it holds none.
std::string readUpstreamToken(const std::string& file);

}  // namespace walstream::httpd
