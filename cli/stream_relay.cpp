#include "cli/stream_relay.h"

#include <chrono>
#include <vector>

#include "core/error.h"
#include "core/log.h"
#include "proto/http/listening_socket.h"
#include "proto/http/server_access.h"

namespace walstream::cli {

StreamRelay::StreamRelay(relay::RelayOptions relayOptions, server::ServerOptions serverOptions)
    : source_(std::move(relayOptions)), serverOptions_(std::move(serverOptions)) {}

StreamRelay::~StreamRelay() {
  stop();
}

void StreamRelay::published(const client::AppliedState& state,
                            std::span<const client::AppliedSegment> segments) {
  std::vector<relay::RelaySegment> relayed;
  relayed.reserve(segments.size());
  for (const client::AppliedSegment& s : segments) relayed.push_back({s.pos, s.lz4, s.walBytes});
  source_.published(relay::ImageState{state.pos, state.pageSize, state.chain, state.localMxFrame,
                                      state.localSalt},
                    relayed);
}

void StreamRelay::start(const client::ReplicaState& state) {
  std::string address = serverOptions_.listenAddress;
  try {
    serverOptions_.listening = std::make_shared<UniqueFd>(
        httpd::openListeningSocket(httpd::parseListenAddress(serverOptions_.listenAddress)));
  } catch (const std::invalid_argument& e) {
    throw Error("cannot serve the stream on " + address + ": " + e.what());
  } catch (const Error& e) {
    throw Error("cannot serve the stream on " + address + ": " + e.what());
  }
  thread_ = std::thread([this, &state] { serve(state); });
}

void StreamRelay::serve(const client::ReplicaState& state) {
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    if (source_.waitForState(std::chrono::milliseconds(200))) break;
  }
  {
    std::lock_guard lock(state.mu);
    source_.setName(state.db);
  }
  server::PrimaryServer* server = nullptr;
  try {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    server_ = std::make_unique<server::PrimaryServer>(std::vector<StreamSource*>{&source_},
                                                      serverOptions_);
    server = server_.get();
  } catch (const std::exception& e) {
    log::error("cannot serve the stream on " + serverOptions_.listenAddress + ": " + e.what());
    return;
  }
  const std::string scheme = serverOptions_.access ? serverOptions_.access->scheme() : "http";
  log::info("serving the stream of " + source_.name() + " on " + scheme + "://" +
            server->boundAddress() + " (at most " + std::to_string(server->maxConnections()) +
            " connections)");
  server->run();
}

void StreamRelay::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    if (server_) server_->stop();
  }
  if (thread_.joinable()) thread_.join();
  server_.reset();  // every session, iterator and snapshot reader goes with it
  source_.close();
}

}  // namespace walstream::cli
