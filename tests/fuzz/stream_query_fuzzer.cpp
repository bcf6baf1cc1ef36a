// Fuzz target: the primary's request target parsing (server/query.h), as HttpSession::route
// runs it on every request line: splitTarget, then parseStreamQuery on /stream queries.
//
// Input: one byte choosing the served databases (bit 0: one or two), then the request target.
// Properties: splitTarget cuts at the first '?' and loses nothing; parseStreamQuery either
// accepts, giving a request within the documented bounds, or throws HttpError 400/404 with a
// message that does not echo the whole request (anything else escaping is a crash); an
// accepted request written back in canonical form (as the replica writes it, every value
// percent-encoded) parses to the same request; decoding a percent-encoded query component
// gives the component back.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/pos.h"
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

std::string percentEncode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~' || c == '/') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

// The canonical query for an accepted request, naming the database by its file name.
std::string canonicalQuery(const StreamQuery& q, const std::vector<ServedName>& served) {
  std::string t = "db=" + percentEncode(served[q.database].name) + "&pos=" + q.pos.str();
  if (q.checksum) {
    t += "&checksum=" + formatHex16((uint64_t{q.checksum->s0} << 32) | q.checksum->s1);
  }
  t += "&heartbeat=" + std::to_string(q.heartbeat.count());
  t += q.compress ? "&compress=1" : "&compress=0";
  return t;
}

bool sameQuery(const StreamQuery& a, const StreamQuery& b) {
  return a.database == b.database && a.pos == b.pos && a.checksum == b.checksum &&
         a.heartbeat == b.heartbeat && a.compress == b.compress;
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
    for (const auto& [key, value] : parseQueryString(split.query)) {
      FUZZ_CHECK(percentDecode(percentEncode(key)) == key);
      FUZZ_CHECK(percentDecode(percentEncode(value)) == value);
    }
  } catch (const HttpError& e) {
    checkRejection(e);
  }

  StreamQuery query;
  try {
    query = parseStreamQuery(split.query, served);
  } catch (const HttpError& e) {
    checkRejection(e);
    return 0;
  }
  FUZZ_CHECK(query.database < served.size());
  FUZZ_CHECK(query.pos.empty() || query.pos.generation != 0);
  FUZZ_CHECK(query.heartbeat.count() == 0 ||
             (query.heartbeat >= kMinHeartbeat && query.heartbeat <= kMaxHeartbeat));
  const StreamQuery again = parseStreamQuery(canonicalQuery(query, served), served);
  FUZZ_CHECK(sameQuery(query, again));
  return 0;
}
