// The replica's HTTP endpoints (--http ADDR): /status (JSON), /metrics (Prometheus text) and
// /healthz (200 once a snapshot has been applied, 503 before). Runs its own Asio thread, which
// only reads ReplicaState under its mutex: it never touches disk or SQLite.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "client/replica_state.h"

namespace walstream::client {

class StatusServer {
 public:
  // Binds host:port (port 0 = ephemeral) and starts serving. Throws walstream::Error.
  StatusServer(const std::string& host, uint16_t port, const ReplicaState& state);
  ~StatusServer();  // stops the thread
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  std::string address() const;  // "http://HOST:PORT" as bound

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace walstream::client
