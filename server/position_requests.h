// The primary's read-your-writes endpoints (docs/read-your-writes.md): GET /pos answers the
// position of the latest capture; POST /sync answers once capture has published every commit
// made before the request arrived (a copy round that started after it, Database::
// requestCaptureRound), 408 when that takes longer than the request's timeout. A /sync waits
// in ServerContext::syncWaiters (no thread, no disk or SQLite on the event loop), which capture's
// publish wakes; beyond --max-waiters it is answered 503 with Retry-After.
#pragma once

#include <boost/beast/http/verb.hpp>
#include <functional>
#include <string_view>

#include "proto/http/response.h"
#include "server/server_context.h"

namespace walstream::server {

inline constexpr std::string_view kPosPath = "/pos";
inline constexpr std::string_view kSyncPath = "/sync";

inline bool isPositionPath(std::string_view path) {
  return path == kPosPath || path == kSyncPath;
}

struct PositionRequest {
  std::string_view path;   // kPosPath or kSyncPath
  std::string_view query;  // without the '?'
  boost::beast::http::verb method;
  unsigned version = 11;
  bool keepAlive = true;
};

// Answers `request` through `reply`, called exactly once: at once for /pos and for errors, later
// (from the event loop) for a /sync that waits.
void answerPositionRequest(ServerContext& ctx, const PositionRequest& request,
                           std::function<void(httpd::StringResponse)> reply);

// Makes every database's publish wake ctx.syncWaiters (through ctx.gate, so that nothing is
// posted once the server has closed it); unhook() undoes it, before the databases or the
// context go.
void hookSyncWaiters(ServerContext& ctx);
void unhookSyncWaiters(ServerContext& ctx);

}  // namespace walstream::server
