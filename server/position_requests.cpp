#include "server/position_requests.h"

#include <memory>
#include <optional>

#include "proto/http/read_methods.h"
#include "proto/http/waiter_registry.h"
#include "proto/wait_request.h"
#include "server/http_error.h"

namespace walstream::server {

namespace http = boost::beast::http;

namespace {

httpd::StringResponse positionAnswer(const ServedDatabase& sd, const Pos& pos,
                                     const PositionRequest& r) {
  return httpd::makeResponse(200, "application/json", proto::positionJson(sd.name.name, pos),
                             r.version, r.keepAlive);
}

// Why capture may not answer: "" while it runs healthy.
std::string captureTrouble(const ServedDatabase& sd) {
  if (sd.source.healthy()) return "";
  const std::string reason = sd.source.healthReason();
  return "; capture of " + sd.name.name +
         " is not running: " + (reason.empty() ? std::string("not healthy") : reason);
}

void answerPos(const ServedDatabase& sd, const PositionRequest& r,
               const std::function<void(httpd::StringResponse)>& reply) {
  const Pos pos = sd.source.position();
  if (pos.empty()) {
    reply(httpd::makeJsonError(
        503, "capture of " + sd.name.name + " has not started" + captureTrouble(sd), r.version,
        r.keepAlive, true));
    return;
  }
  reply(positionAnswer(sd, pos, r));
}

// The answer to a /sync whose wait ended.
httpd::StringResponse syncEnded(const ServedDatabase& sd, const PositionRequest& r,
                                httpd::WaiterRegistry::End end, const std::optional<Pos>& captured,
                                std::chrono::milliseconds timeout) {
  if (end != httpd::WaiterRegistry::End::kClosed && captured) {
    return positionAnswer(sd, *captured, r);
  }
  if (end == httpd::WaiterRegistry::End::kClosed) {
    return httpd::makeJsonError(503, "the primary is stopping", r.version, false, true);
  }
  return httpd::makeJsonError(408,
                              "capture of " + sd.name.name +
                                  " did not publish the commits made before this request within " +
                                  proto::waitTimeoutText(timeout) + captureTrouble(sd),
                              r.version, r.keepAlive);
}

void answerSync(ServerContext& ctx, ServedDatabase& sd, const PositionRequest& r,
                std::chrono::milliseconds timeout,
                std::function<void(httpd::StringResponse)> reply) {
  CaptureRounds* rounds = sd.source.captureRounds();
  if (!rounds) {
    reply(httpd::makeJsonError(
        404,
        sd.name.name +
            " is not captured here (this server relays it): send POST /sync to the primary",
        r.version, r.keepAlive));
    return;
  }
  const uint64_t round = rounds->requestCaptureRound();
  auto captured = std::make_shared<std::optional<Pos>>();
  auto check = [rounds, round, captured] {
    *captured = rounds->capturedThrough(round);
    return captured->has_value();
  };
  auto shared = std::make_shared<std::function<void(httpd::StringResponse)>>(std::move(reply));
  // The request's views (path, query) are not kept: its buffer is reused before the wait ends.
  const PositionRequest form{kSyncPath, {}, r.method, r.version, r.keepAlive};
  auto done = [&sd, rounds, round, form, captured, timeout,
               shared](httpd::WaiterRegistry::End end) {
    // A publish whose re-check had not run yet when the timer fired still counts.
    if (end == httpd::WaiterRegistry::End::kTimedOut) *captured = rounds->capturedThrough(round);
    (*shared)(syncEnded(sd, form, end, *captured, timeout));
  };
  if (ctx.syncWaiters->wait(std::move(check), timeout, std::move(done))) return;
  httpd::StringResponse res = httpd::makeJsonError(
      503,
      "too many requests waiting: " + std::to_string(ctx.syncWaiters->maxWaiters()) +
          " /sync requests wait already (--max-waiters); retry later",
      r.version, r.keepAlive);
  res.set(http::field::retry_after, "1");
  (*shared)(std::move(res));
}

}  // namespace

void answerPositionRequest(ServerContext& ctx, const PositionRequest& r,
                           std::function<void(httpd::StringResponse)> reply) {
  const bool isSync = r.path == kSyncPath;
  if (isSync ? r.method != http::verb::post : !httpd::isGetOrHead(r.method)) {
    reply(httpd::methodNotAllowed(std::string(http::to_string(r.method)), std::string(r.path),
                                  isSync ? "POST" : httpd::kAllowGetAndHead, r.version,
                                  r.keepAlive));
    return;
  }
  try {
    const proto::WaitRequest w = isSync ? proto::parseWaitRequest(r.query, {"db", "timeout"})
                                        : proto::parseWaitRequest(r.query, {"db"});
    ServedDatabase& sd = *ctx.databases[requestedDatabase(w.db, ctx.names)];
    if (isSync) {
      answerSync(ctx, sd, r, w.timeout, std::move(reply));
    } else {
      answerPos(sd, r, reply);
    }
  } catch (const proto::WaitRequestError& e) {
    reply(httpd::makeJsonError(400, e.what(), r.version, r.keepAlive));
  } catch (const HttpError& e) {
    reply(httpd::makeJsonError(static_cast<unsigned>(e.status()), e.what(), r.version, r.keepAlive,
                               e.retryable()));
  }
}

void hookSyncWaiters(ServerContext& ctx) {
  for (auto& sd : ctx.databases) {
    CaptureRounds* rounds = sd->source.captureRounds();
    if (!rounds) continue;  // no /sync waits on it
    rounds->setPublishListener([gate = ctx.gate, waiters = ctx.syncWaiters.get()] {
      gate->run([&] { waiters->notify(); });
    });
  }
}

void unhookSyncWaiters(ServerContext& ctx) {
  for (auto& sd : ctx.databases) {
    if (CaptureRounds* rounds = sd->source.captureRounds()) rounds->setPublishListener({});
  }
}

}  // namespace walstream::server
