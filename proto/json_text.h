// JSON documents as text, for documents that may hold text from outside the process.
#pragma once

#include <nlohmann/json_fwd.hpp>
#include <string>

namespace walstream::proto {

// value.dump() (compact), with every invalid UTF-8 byte in its strings replaced by U+FFFD
// instead of the type_error nlohmann::json throws: serialising a document never fails.
std::string jsonText(const nlohmann::json& value);

}  // namespace walstream::proto
