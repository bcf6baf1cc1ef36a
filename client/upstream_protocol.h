// Which /stream protocol the replica's upstream speaks: walstream's (docs/wire-format.md §1-8)
// or the original 2022 design's (§9), which a replica follows too.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace walstream::client {

struct HttpResponseHead;

// --upstream-protocol: `auto` asks in walstream's form (naming an absolute --db by `path=`, which
// a primary of either protocol accepts) and switches to the original form once a response shows
// that protocol; `original` asks in the original form from the first request on, so that even
// the first stream resumes where LOCAL_DB stands.
enum class UpstreamProtocol { kAuto, kOriginal };

// "auto" or "original"; nullopt otherwise.
std::optional<UpstreamProtocol> parseUpstreamProtocol(std::string_view text);

// What a 200 response to a stream request says of its sender: a walstream primary always sends
// Walstream-Page-Size; one of the original protocol sends only Litestream-page-size, and with
// it neither heartbeats nor index ends, whatever was asked.
bool respondsInOriginalProtocol(const HttpResponseHead& head);

// The name /status shows for it.
inline std::string_view protocolName(bool original) {
  return original ? "original" : "walstream";
}

// A --db that names the database by its absolute path, as a primary of the original protocol
// knows it: the replica then names it with `path=`.
inline bool namesDatabaseByPath(std::string_view db) {
  return !db.empty() && db.front() == '/';
}

}  // namespace walstream::client
