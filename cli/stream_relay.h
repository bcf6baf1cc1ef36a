// --serve-stream: a replica that serves downstream replicas (docs/cascading.md). The relay
// source (relay/relay_source.h), fed by the replica's applier as its AppliedStateListener, and
// the primary's HTTP stack over it. The address is bound at start; the server takes the
// listening socket over once the replica has applied a state and knows the name of the database
// it follows, which is the name it serves under, so that a downstream's db= is the same at
// every hop.
#pragma once

#include <memory>
#include <mutex>
#include <thread>

#include "client/applied_state_listener.h"
#include "client/replica_state.h"
#include "relay/relay_source.h"
#include "server/primary_server.h"

namespace walstream::cli {

class StreamRelay final : public client::AppliedStateListener {
 public:
  StreamRelay(relay::RelayOptions relayOptions, server::ServerOptions serverOptions);
  ~StreamRelay();
  StreamRelay(const StreamRelay&) = delete;
  StreamRelay& operator=(const StreamRelay&) = delete;

  // Binds and listens on the address at once (a port in use throws walstream::Error, before the
  // replica starts), then starts the thread that waits for the first applied state, logs
  // "serving the stream on URL" and serves until stop(). Connections made meanwhile wait in
  // the listening socket's backlog.
  void start(const client::ReplicaState& state);
  // Stops the server (every stream and snapshot reader is gone when it returns), then the
  // source. Must run before the replica stops: its applier closes its connections to LOCAL_DB
  // only once no snapshot reader holds one.
  void stop();

  std::unique_lock<std::mutex> lockPublish() override { return source_.lockPublish(); }
  void published(const client::AppliedState& state,
                 std::span<const client::AppliedSegment> segments) override;
  void forgotten() override { source_.forgotten(); }
  void replacingLocalDb() override { source_.revokeSnapshots(); }
  void upstreamChain(const std::string& chain) override { source_.setUpstreamChain(chain); }

 private:
  void serve(const client::ReplicaState& state);

  relay::RelaySource source_;
  server::ServerOptions serverOptions_;  // its listening socket is opened by start()
  std::mutex mu_;                        // guards server_ and stopping_
  std::unique_ptr<server::PrimaryServer> server_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace walstream::cli
