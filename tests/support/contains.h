// Whether `text` (a log, an answer, an error message) contains `needle`: the test's question,
// said in one word.
#pragma once

#include <string_view>

namespace walstream::test {

inline bool contains(std::string_view text, std::string_view needle) {
  return text.find(needle) != std::string_view::npos;
}

}  // namespace walstream::test
