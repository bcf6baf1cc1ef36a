// The read-your-writes requests (docs/read-your-writes.md): the primary's GET /pos and
// POST /sync, the replica's GET /wait. Their query parameters, parsed strictly, and the JSON of
// their answers.
//
//   /pos   db=NAME (optional when one database is served)
//   /sync  db=NAME (likewise), timeout=DURATION
//   /wait  pos=GEN/INDEX:OFFSET (required), timeout=DURATION
//
// DURATION is a whole number of milliseconds or seconds, "250ms" or "2s", from 0 (answer at
// once) to kMaxWaitTimeout; absent, kDefaultWaitTimeout. Any other parameter, or one given
// twice, is an error: a misspelt "timout=" must not silently wait the default.
#pragma once

#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <string_view>

#include "core/error.h"
#include "core/pos.h"

namespace walstream::proto {

inline constexpr std::chrono::milliseconds kDefaultWaitTimeout{5000};
inline constexpr std::chrono::milliseconds kMaxWaitTimeout{60000};

// A request the endpoint cannot take; its message is the 400 answer's error, one line.
class WaitRequestError : public Error {
 public:
  using Error::Error;
};

struct WaitRequest {
  std::string db;  // "" when not given
  std::optional<Pos> pos;
  std::chrono::milliseconds timeout = kDefaultWaitTimeout;
};

// Parses `query` allowing only the parameters in `allowed` ("db", "pos", "timeout"); a `pos`
// that is allowed is required. Throws WaitRequestError.
WaitRequest parseWaitRequest(std::string_view query, const std::set<std::string>& allowed);

// "250ms" or "2s" (and "0"); nullopt for anything else, a negative or an overflowing number.
std::optional<std::chrono::milliseconds> parseWaitTimeout(std::string_view text);

// A timeout as requests spell it: "2s", or "250ms" when not whole seconds.
std::string waitTimeoutText(std::chrono::milliseconds timeout);

// {"db":"app.db","pos":"GEN/INDEX:OFFSET","generation":"GEN"} and a newline; "db" only when
// `db` is not empty.
std::string positionJson(const std::string& db, const Pos& pos);

}  // namespace walstream::proto
