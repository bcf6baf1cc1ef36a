#include "server/capture/segment_file_pool.h"

#include <fcntl.h>

#include <algorithm>

#include "core/error.h"
#include "core/pos.h"

namespace walstream {

namespace {

// About four WAL indexes' worth of segments at 1000 tx/s; beyond it files are deleted.
constexpr size_t kMaxPooledFiles = 4096;
// See the invariant in the header: far longer than any read of one segment file.
constexpr auto kQuarantine = std::chrono::seconds(2);

}  // namespace

void SegmentFilePool::load() {
  if (loaded_) return;
  fs_.makeDirs(dir_);
  for (const std::string& name : listDir(dir_)) {
    // Left by an earlier run, whose readers are gone: reusable at once.
    files_.push_back({dir_ + "/" + name, std::chrono::steady_clock::time_point{}});
    try {
      nextName_ = std::max(nextName_, parseHex16(name, "pooled file name") + 1);
    } catch (const Error&) {
      // A foreign name is pooled as well; it cannot collide with ours.
    }
  }
  loaded_ = true;
}

std::string SegmentFilePool::nextPath() {
  return dir_ + "/" + formatHex16(nextName_++);
}

void SegmentFilePool::retire(const std::string& path) {
  std::string pooled;
  {
    std::lock_guard lock(mu_);
    load();
    if (files_.size() < kMaxPooledFiles) pooled = nextPath();
  }
  if (!pooled.empty()) {
    try {
      fs_.rename(path, pooled);
    } catch (const Error&) {
      if (!pathExists(path)) return;  // removed meanwhile
      throw;
    }
    std::lock_guard lock(mu_);
    files_.push_back({std::move(pooled), std::chrono::steady_clock::now()});
    return;
  }
  fs_.unlink(path);
}

SpareFile SegmentFilePool::take() {
  SpareFile spare;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      load();
      if (files_.empty() ||
          std::chrono::steady_clock::now() - files_.front().retiredAt < kQuarantine) {
        spare.path = nextPath();
        break;
      }
      spare.path = std::move(files_.front().path);
      files_.pop_front();
    }
    spare.fd = fs_.openFileIfExists(spare.path, O_WRONLY);
    if (spare.fd.valid()) return spare;  // else removed by someone: try the next one
  }
  spare.fd = fs_.openFile(spare.path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  return spare;
}

void SegmentFilePool::fill() {
  for (;;) {
    std::string path;
    {
      std::lock_guard lock(mu_);
      load();
      if (files_.size() >= kTarget) return;
      path = nextPath();
    }
    UniqueFd fd = fs_.openFile(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::lock_guard lock(mu_);
    // Never read by anyone: usable at once (in front of files still in quarantine).
    files_.push_front({std::move(path), std::chrono::steady_clock::time_point{}});
  }
}

bool SegmentFilePool::refillWanted() {
  std::lock_guard lock(mu_);
  load();
  return files_.size() < kTarget / 2;
}

size_t SegmentFilePool::size() {
  std::lock_guard lock(mu_);
  load();
  return files_.size();
}

}  // namespace walstream
