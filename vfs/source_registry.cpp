#include "vfs/source_registry.h"

namespace walstream::vfs {

std::shared_ptr<BackupSource> SourceRegistry::acquire(const SourceOptions& options) {
  const std::string identity = options.identity();
  std::lock_guard lock(mu_);
  std::erase_if(sources_, [](const auto& entry) { return entry.second.expired(); });
  if (const auto it = sources_.find(identity); it != sources_.end()) {
    if (auto live = it->second.lock()) return live;
  }
  auto source = std::make_shared<BackupSource>(options);
  sources_[identity] = source;
  return source;
}

}  // namespace walstream::vfs
