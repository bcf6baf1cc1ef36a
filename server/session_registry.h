// Every open connection of the server, so that /status can list streams and shutdown can close
// them all. Thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/pos.h"

namespace walstream::server {

// One live /stream as the primary's /status lists it (proto/status_json.h has its JSON).
struct StreamListing {
  size_t database = 0;  // index into the served databases
  std::string remote;
  Pos pos;  // how far the client has been sent
  std::string connectedAt;
};

class Session {
 public:
  virtual ~Session() = default;
  // Ends the session from any thread (the work is posted to the session's own executor).
  virtual void close() = 0;
  // A /stream session's status; nullopt for other connections.
  virtual std::optional<StreamListing> streamListing() const { return std::nullopt; }
};

class SessionRegistry {
 public:
  // Returns an id for remove(), or nullopt once closeAll() has run (the caller must end itself).
  std::optional<uint64_t> add(std::weak_ptr<Session> session);
  void remove(uint64_t id);
  std::vector<StreamListing> streams() const;
  // Closes every session, and refuses new ones from now on.
  void closeAll();

 private:
  std::vector<std::shared_ptr<Session>> liveLocked() const;

  mutable std::mutex mu_;
  std::map<uint64_t, std::weak_ptr<Session>> sessions_;
  uint64_t nextId_ = 1;
  bool closed_ = false;
};

}  // namespace walstream::server
