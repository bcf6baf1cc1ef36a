#include "proto/original_stream_request.h"

#include "proto/query_string.h"
#include "proto/stream_request.h"

namespace walstream::proto {

std::string originalStreamTarget(std::string_view path, const Pos& pos) {
  std::string t = std::string(kStreamPath) + "?path=" + percentEncode(path);
  if (pos.generation != 0) {
    t += "&generation=" + formatHex16(pos.generation) + "&index=" + formatHex16(pos.index);
  }
  return t;
}

}  // namespace walstream::proto
