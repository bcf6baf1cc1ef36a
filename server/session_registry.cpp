#include "server/session_registry.h"

namespace walstream::server {

std::optional<uint64_t> SessionRegistry::add(std::weak_ptr<Session> session) {
  std::lock_guard lock(mu_);
  if (closed_) return std::nullopt;
  uint64_t id = nextId_++;
  sessions_.emplace(id, std::move(session));
  return id;
}

void SessionRegistry::remove(uint64_t id) {
  std::lock_guard lock(mu_);
  sessions_.erase(id);
}

std::vector<std::shared_ptr<Session>> SessionRegistry::liveLocked() const {
  std::vector<std::shared_ptr<Session>> out;
  for (const auto& [id, weak] : sessions_) {
    if (auto s = weak.lock()) out.push_back(std::move(s));
  }
  return out;
}

std::vector<StreamListing> SessionRegistry::streams() const {
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(mu_);
    live = liveLocked();
  }
  // Asked outside the lock: a session's status has its own lock.
  std::vector<StreamListing> out;
  for (const auto& s : live) {
    if (auto st = s->streamListing()) out.push_back(std::move(*st));
  }
  return out;
}

void SessionRegistry::closeAll() {
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard lock(mu_);
    closed_ = true;
    live = liveLocked();
  }
  for (const auto& s : live) s->close();
}

}  // namespace walstream::server
