// The backup sources of one registered VFS, by identity (source_options.h): files opened on the
// same backup with the same options share one source, its cache and its poller; a source goes
// when its last file closes.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "vfs/backup_source.h"
#include "vfs/source_options.h"

namespace walstream::vfs {

class SourceRegistry {
 public:
  // The live source with these options, or a new one (built under the registry's lock, so two
  // opens of a new backup build it once). Throws as BackupSource's constructor.
  std::shared_ptr<BackupSource> acquire(const SourceOptions& options);

 private:
  std::mutex mu_;
  std::map<std::string, std::weak_ptr<BackupSource>> sources_;  // guarded by mu_
};

}  // namespace walstream::vfs
