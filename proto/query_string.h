// The query string of a request target ("a=1&b=2"), as the /stream request uses it: components
// are percent-encoded, and '+' decodes to a space, as in HTML forms.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.h"

namespace walstream::proto {

// A query string that cannot be decoded; the message quotes the offending component (cut
// short by quoteQueryValue).
class QueryStringError : public Error {
 public:
  using Error::Error;
};

// Percent-encodes every byte but the unreserved ones (letters, digits, "-._~") and '/', which
// stays readable in paths. percentDecode(percentEncode(s)) == s for every s.
std::string percentEncode(std::string_view text);

// Percent-decodes one query component. Throws QueryStringError on a malformed escape.
std::string percentDecode(std::string_view text);

// Splits "a=1&b=2" into decoded pairs, in order; empty parts are skipped and a part without '='
// has an empty value. Throws QueryStringError on a malformed escape.
std::vector<std::pair<std::string, std::string>> parseQueryString(std::string_view query);

// A request value quoted for an error message, cut to 64 bytes (naming its length then):
// answers do not echo whole requests.
std::string quoteQueryValue(std::string_view text);

}  // namespace walstream::proto
