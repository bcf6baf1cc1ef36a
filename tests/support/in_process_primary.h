// The primary's capture of one database and its HTTP server, both in the test's process, so that
// a test can make the server's limits small or serve the capture through another StreamSource
// (docs/stream-source.md). Header-only: the test support libraries do not link the server, and
// only integration tests, which do, include it.
#pragma once

#include <functional>
#include <memory>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "server/capture/database.h"
#include "server/capture/stream_source.h"
#include "server/primary_server.h"

namespace walstream::test {

class InProcessPrimary {
 public:
  // What the server serves the capture through; the Database itself when empty.
  using SourceOf = std::function<std::unique_ptr<StreamSource>(Database&)>;

  InProcessPrimary(const std::string& db, server::StreamLimits limits, CaptureOptions capture,
                   const SourceOf& sourceOf = {})
      : database_(db, std::move(capture)) {
    capture_ = std::jthread([this](std::stop_token stop) { database_.run(stop); });
    if (sourceOf) wrapper_ = sourceOf(database_);
    server::ServerOptions options;
    options.listenAddress = "127.0.0.1:0";
    options.limits = limits;
    StreamSource* served = wrapper_ ? wrapper_.get() : &database_;
    server_ = std::make_unique<server::PrimaryServer>(std::vector<StreamSource*>{served}, options);
    const std::string bound = server_->boundAddress();
    port_ = static_cast<uint16_t>(std::stoi(bound.substr(bound.rfind(':') + 1)));
    loop_ = std::thread([this] { server_->run(); });
  }
  // The server first (no session may outlive what it streams from), then capture.
  ~InProcessPrimary() {
    server_->stop();
    loop_.join();
    server_.reset();
    capture_.request_stop();
    database_.wake();
    capture_.join();
  }
  InProcessPrimary(const InProcessPrimary&) = delete;
  InProcessPrimary& operator=(const InProcessPrimary&) = delete;

  uint16_t port() const { return port_; }

 private:
  Database database_;
  std::unique_ptr<StreamSource> wrapper_;
  std::jthread capture_;
  std::unique_ptr<server::PrimaryServer> server_;
  std::thread loop_;
  uint16_t port_ = 0;
};

}  // namespace walstream::test
