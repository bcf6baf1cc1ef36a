// Fuzz target: position parsing, the shadow WAL's Pos text form (core/pos.h) and the replica's
// position file line (client/replica_position.h). Both read text that may be corrupt (a torn
// or hand-edited file, a request parameter).
//
// Input: the text itself, given to every parser.
// Properties: parseHex16 and parsePos accept only the canonical text, so formatting what they
// return gives the input back; the only failure they report is Error. parseReplicaPosition
// never throws; what it accepts is formatted as one fixed-length line that parses to the same
// value and formats to the same line again.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "client/replica_position.h"
#include "core/error.h"
#include "core/pos.h"
#include "tests/fuzz/fuzz_check.h"

using namespace walstream;
using namespace walstream::client;

namespace {

// Every formatted line: 240 bytes of fields, " sum=", 8 hex digits and a newline.
constexpr size_t kLineSize = 240 + 5 + 8 + 1;

bool sameState(const WalChainState& a, const WalChainState& b) {
  return a.pageSize == b.pageSize && a.salt1 == b.salt1 && a.salt2 == b.salt2 &&
         a.bigEndianChecksum == b.bigEndianChecksum && a.checksum == b.checksum;
}

bool samePosition(const ReplicaPosition& a, const ReplicaPosition& b) {
  return a.pos == b.pos && sameState(a.chain, b.chain) && a.chainKnown == b.chainKnown &&
         a.local == b.local;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text = fuzz::asText({data, size});

  try {
    const uint64_t v = parseHex16(text, "value");
    FUZZ_CHECK(formatHex16(v) == text);
  } catch (const Error&) {
  }

  try {
    const Pos p = parsePos(text);
    FUZZ_CHECK(p.str() == text);
    FUZZ_CHECK(parsePos(p.str()) == p);
    FUZZ_CHECK(p.empty() == text.empty());
  } catch (const Error&) {
  }

  const std::optional<ReplicaPosition> parsed = parseReplicaPosition(std::string(text));
  if (parsed) {
    FUZZ_CHECK(!parsed->pos.empty());
    FUZZ_CHECK(isValidPageSize(parsed->chain.pageSize));
    const std::string line = formatReplicaPosition(*parsed);
    FUZZ_CHECK(line.size() == kLineSize);
    const std::optional<ReplicaPosition> again = parseReplicaPosition(line);
    FUZZ_CHECK(again.has_value());
    FUZZ_CHECK(samePosition(*parsed, *again));
    FUZZ_CHECK(formatReplicaPosition(*again) == line);
  }
  return 0;
}
