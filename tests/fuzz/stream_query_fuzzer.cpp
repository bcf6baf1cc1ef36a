// Fuzz target: the primary's request target parsing (server/query.h over
// proto/stream_request.h), as HttpSession::route runs it on every request line: splitTarget,
// then parseStreamQuery on /stream queries.
//
// Input: one byte choosing the served databases (bit 0: one or two), then the request target.
// Properties: splitTarget cuts at the first '?' and loses nothing; parseStreamQuery either
// accepts, giving a request within the documented bounds, or throws HttpError 400/404 with a
// message that does not echo the whole request (anything else escaping is a crash); an
// accepted request written back in canonical form (StreamRequest::target, as the replica writes
// it) parses to the same request; decoding a percent-encoded query component
// gives the component back.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/pos.h"
#include "proto/heartbeat_bounds.h"
#include "proto/query_string.h"
#include "proto/stream_request.h"
#include "server/http_error.h"
#include "server/query.h"
#include "tests/fuzz/fuzz_check.h"

using namespace walstream;
using namespace walstream::server;

namespace {

const std::vector<ServedName> kOne = {{"app.db", "data/app.db", "/srv/data/app.db"}};
const std::vector<ServedName> kTwo = {{"app.db", "data/app.db", "/srv/data/app.db"},
                                      {"other db+%.db", "/abs/other.db", "/abs/other.db"}};

// Bound on an error answer: values are quoted cut to 64 bytes, so no message grows with the
// request (the longest fixed texts plus a few quoted values and the served list stay far below).
constexpr size_t kMaxErrorMessage = 1024;

// The canonical query for an accepted request, naming the database by its file name.
std::string canonicalQuery(const StreamQuery& q, const std::vector<ServedName>& served) {
  proto::StreamRequest canonical = q.request;
  canonical.db = served[q.database].name;
  const std::string target = canonical.target();
  return target.substr(target.find('?') + 1);
}

// The same database and the same request, however the database was named.
bool sameQuery(const StreamQuery& a, const StreamQuery& b) {
  proto::StreamRequest first = a.request;
  proto::StreamRequest second = b.request;
  first.db = second.db = "";
  return a.database == b.database && first == second;
}

void checkRejection(const HttpError& e) {
  FUZZ_CHECK(e.status() == 400 || e.status() == 404);
  FUZZ_CHECK(std::string_view(e.what()).size() <= kMaxErrorMessage);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::InputReader in(data, size);
  const std::vector<ServedName>& served = (in.byte() & 1) ? kTwo : kOne;
  const std::string_view target = fuzz::asText(in.rest());

  const RequestTarget split = splitTarget(target);
  FUZZ_CHECK(split.path.find('?') == std::string_view::npos);
  if (split.path.size() == target.size()) {
    FUZZ_CHECK(split.query.empty());
  } else {
    FUZZ_CHECK(std::string(split.path) + "?" + std::string(split.query) == target);
  }

  try {
    for (const auto& [key, value] : proto::parseQueryString(split.query)) {
      FUZZ_CHECK(proto::percentDecode(proto::percentEncode(key)) == key);
      FUZZ_CHECK(proto::percentDecode(proto::percentEncode(value)) == value);
    }
  } catch (const proto::QueryStringError& e) {
    FUZZ_CHECK(std::string_view(e.what()).size() <= kMaxErrorMessage);
  }

  StreamQuery query;
  try {
    query = parseStreamQuery(split.query, served);
  } catch (const HttpError& e) {
    checkRejection(e);
    return 0;
  }
  FUZZ_CHECK(query.database < served.size());
  const proto::StreamRequest& request = query.request;
  FUZZ_CHECK(request.pos.empty() || request.pos.generation != 0);
  FUZZ_CHECK(request.heartbeat.count() == 0 || (request.heartbeat >= proto::kMinHeartbeat &&
                                                request.heartbeat <= proto::kMaxHeartbeat));
  const StreamQuery again = parseStreamQuery(canonicalQuery(query, served), served);
  FUZZ_CHECK(sameQuery(query, again));
  return 0;
}
