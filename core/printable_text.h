// Text from outside the process (an upstream's error body, a request target, a name in a peer's
// JSON) on its way into a log line or a JSON document. Log lines are one line each and JSON
// strings must be valid UTF-8 (nlohmann::json::dump() throws on anything else), so such text
// goes through printableText() first.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace walstream {

// Valid UTF-8 with no control characters, at most about maxBytes long: every byte of `text`
// that is not part of a valid UTF-8 sequence, and every control character (C0, DEL, C1), is
// written as \xNN; a backslash stays a backslash. Text longer than maxBytes is cut at a
// character boundary and ends with "...".
std::string printableText(std::string_view text, size_t maxBytes = 1024);

}  // namespace walstream
