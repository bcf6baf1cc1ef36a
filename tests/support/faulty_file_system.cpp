#include "tests/support/faulty_file_system.h"

#include <fcntl.h>

#include <algorithm>

#include "core/error.h"

namespace walstream::test {

namespace {

bool contains(std::string_view s, std::string_view part) {
  return part.empty() || s.find(part) != std::string_view::npos;
}

FsCall call(FsOp op, std::string path, std::string target = {}, size_t bytes = 0) {
  FsCall c;
  c.op = op;
  c.path = std::move(path);
  c.target = std::move(target);
  c.bytes = bytes;
  return c;
}

}  // namespace

void FaultyFileSystem::addFault(Fault fault) {
  std::lock_guard lock(mu_);
  faults_.push_back({std::move(fault), 0});
}

void FaultyFileSystem::clearFaults() {
  std::lock_guard lock(mu_);
  faults_.clear();
}

uint64_t FaultyFileSystem::injected() const {
  std::lock_guard lock(mu_);
  return injected_.size();
}

std::vector<FsCall> FaultyFileSystem::injectedCalls() const {
  std::lock_guard lock(mu_);
  return injected_;
}

bool FaultyFileSystem::waitForInjected(uint64_t n, std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return injectedChanged_.wait_for(lock, timeout, [&] { return injected_.size() >= n; });
}

uint64_t FaultyFileSystem::calls(FsOp op, std::string_view pathContains) const {
  std::lock_guard lock(mu_);
  uint64_t n = 0;
  for (const auto& [key, count] : counts_) {
    if (key.first == op && contains(key.second, pathContains)) n += count;
  }
  return n;
}

std::vector<std::string> FaultyFileSystem::notDurable(std::string_view pathContains,
                                                      const std::string& root) const {
  std::lock_guard lock(mu_);
  auto nameDurable = [&](const std::string& path) {
    auto it = nodes_.find(path);
    return it == nodes_.end() || it->second.nameDurable;
  };
  std::vector<std::string> out;
  for (const auto& [path, n] : nodes_) {
    if (!contains(path, pathContains) || path.compare(0, root.size(), root) != 0) continue;
    bool durable = n.dataDurable && n.nameDurable;
    // Every directory above it, up to and including the root, must be reachable too.
    for (std::string dir = dirName(path); durable && dir.size() >= root.size();
         dir = dirName(dir)) {
      durable = nameDurable(dir);
      if (dir == root || dir == "/" || dir == ".") break;
    }
    if (!durable) out.push_back(path);
  }
  return out;
}

std::optional<Fault> FaultyFileSystem::check(FsCall c) {
  c.thread = std::this_thread::get_id();
  std::lock_guard lock(mu_);
  ++counts_[{c.op, c.path}];
  std::optional<Fault> hit;
  for (ArmedFault& a : faults_) {
    const Fault& f = a.fault;
    if (f.op != c.op) continue;
    if (!contains(c.path, f.pathContains) && !contains(c.target, f.pathContains)) continue;
    if (f.when && !f.when(c)) continue;
    ++a.counted;
    if (!hit && (a.counted == f.nth || (f.sticky && a.counted > f.nth))) hit = f;
  }
  if (hit) {
    injected_.push_back(std::move(c));
    injectedChanged_.notify_all();
  }
  return hit;
}

void FaultyFileSystem::fail(const Fault& f, std::string_view what, std::string_view path) {
  throwSystemError(what, path, f.error);
}

FaultyFileSystem::Node& FaultyFileSystem::node(const std::string& path) {
  return nodes_.try_emplace(path).first->second;
}

void FaultyFileSystem::dataChanged(const std::string& path, bool emptied) {
  std::lock_guard lock(mu_);
  Node& n = node(path);
  n.dataDurable = false;
  if (emptied) n.dataLost = false;  // nothing of the old content is left to lose
}

UniqueFd FaultyFileSystem::openFile(const std::string& path, int flags, unsigned mode) {
  if (auto f = check(call(FsOp::kOpen, path))) fail(*f, "cannot open", path);
  const bool existed = pathExists(path);
  UniqueFd fd = base_.openFile(path, flags, mode);
  std::lock_guard lock(mu_);
  if (!existed) {
    node(path) = {false, false};
  } else if (flags & O_TRUNC) {
    node(path).dataDurable = false;
    node(path).dataLost = false;
  }
  return fd;
}

UniqueFd FaultyFileSystem::openFileIfExists(const std::string& path, int flags) {
  if (auto f = check(call(FsOp::kOpen, path))) fail(*f, "cannot open", path);
  UniqueFd fd = base_.openFileIfExists(path, flags);
  if (fd.valid() && (flags & O_TRUNC)) dataChanged(path, true);
  return fd;
}

void FaultyFileSystem::writeWithFaults(int fd, const void* buf, size_t n,
                                       std::optional<uint64_t> offset, std::string_view path) {
  const std::string p(path);
  const std::optional<Fault> f = check(call(FsOp::kWrite, p, {}, n));
  dataChanged(p);  // even a failed write may have changed the file
  const size_t part = f ? std::min(f->shortWriteBytes, n) : n;
  if (part > 0) {
    if (offset) {
      base_.pwriteFull(fd, buf, part, *offset, path);
    } else {
      base_.writeFull(fd, buf, part, path);
    }
  }
  if (f) {
    fail(*f,
         offset ? "write failed at offset " + std::to_string(*offset + part) + " of"
                : std::string("write failed"),
         path);
  }
}

void FaultyFileSystem::pwriteFull(int fd, const void* buf, size_t n, uint64_t offset,
                                  std::string_view path) {
  writeWithFaults(fd, buf, n, offset, path);
}

void FaultyFileSystem::writeFull(int fd, const void* buf, size_t n, std::string_view path) {
  writeWithFaults(fd, buf, n, std::nullopt, path);
}

void FaultyFileSystem::syncWithFaults(int fd, std::string_view path, bool dataOnly) {
  const std::string p(path);
  if (auto f = check(call(FsOp::kSync, p))) {
    {
      std::lock_guard lock(mu_);
      Node& n = node(p);
      if (!n.dataDurable) n.dataLost = true;
    }
    fail(*f, dataOnly ? "fdatasync failed" : "fsync failed", p);
  }
  if (dataOnly) {
    base_.fdatasync(fd, path);
  } else {
    base_.fsync(fd, path);
  }
  std::lock_guard lock(mu_);
  Node& n = node(p);
  n.dataDurable = !n.dataLost;
}

void FaultyFileSystem::fsync(int fd, std::string_view path) {
  syncWithFaults(fd, path, false);
}

void FaultyFileSystem::fdatasync(int fd, std::string_view path) {
  syncWithFaults(fd, path, true);
}

void FaultyFileSystem::syncFileSystem(const std::string& path) {
  if (auto f = check(call(FsOp::kSync, path))) {
    {
      std::lock_guard lock(mu_);
      for (auto& [p, n] : nodes_) {
        if (!n.dataDurable) n.dataLost = true;
        if (!n.nameDurable) n.nameLost = true;
      }
    }
    fail(*f, "syncfs failed for the file system of", path);
  }
  base_.syncFileSystem(path);
  std::lock_guard lock(mu_);
  for (auto& [p, n] : nodes_) {
    n.dataDurable = !n.dataLost;
    n.nameDurable = !n.nameLost;
  }
}

void FaultyFileSystem::fsyncDir(const std::string& dir) {
  if (auto f = check(call(FsOp::kSyncDir, dir))) {
    {
      std::lock_guard lock(mu_);
      for (auto& [p, n] : nodes_) {
        if (dirName(p) == dir && !n.nameDurable) n.nameLost = true;
      }
    }
    fail(*f, "fsync failed", dir);
  }
  base_.fsyncDir(dir);
  std::lock_guard lock(mu_);
  for (auto& [p, n] : nodes_) {
    if (dirName(p) == dir) n.nameDurable = !n.nameLost;
  }
}

void FaultyFileSystem::rename(const std::string& from, const std::string& to) {
  if (auto f = check(call(FsOp::kRename, from, to))) fail(*f, "cannot rename " + from + " to", to);
  base_.rename(from, to);
  std::lock_guard lock(mu_);
  Node moved;
  if (auto it = nodes_.find(from); it != nodes_.end()) {
    moved = it->second;
    nodes_.erase(it);
  }
  moved.nameDurable = false;
  moved.nameLost = false;  // a new entry
  nodes_[to] = moved;
}

bool FaultyFileSystem::unlink(const std::string& path) {
  if (auto f = check(call(FsOp::kUnlink, path))) fail(*f, "cannot remove", path);
  const bool existed = base_.unlink(path);
  std::lock_guard lock(mu_);
  nodes_.erase(path);
  return existed;
}

void FaultyFileSystem::truncate(const std::string& path, uint64_t size) {
  if (auto f = check(call(FsOp::kTruncate, path))) fail(*f, "cannot truncate", path);
  dataChanged(path, size == 0);
  base_.truncate(path, size);
}

void FaultyFileSystem::ftruncate(int fd, uint64_t size, std::string_view path) {
  const std::string p(path);
  if (auto f = check(call(FsOp::kTruncate, p))) fail(*f, "cannot truncate", p);
  dataChanged(p, size == 0);
  base_.ftruncate(fd, size, path);
}

void FaultyFileSystem::makeDirs(const std::string& path) {
  if (auto f = check(call(FsOp::kMakeDirs, path))) fail(*f, "cannot create directory", path);
  std::vector<std::string> created;
  for (std::string dir = path; !pathExists(dir) && dir != "/" && dir != ".";) {
    created.push_back(dir);
    dir = dirName(dir);
  }
  base_.makeDirs(path);
  std::lock_guard lock(mu_);
  for (const std::string& dir : created) node(dir) = {true, false};
}

}  // namespace walstream::test
