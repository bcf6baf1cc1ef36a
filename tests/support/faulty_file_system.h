// A FileSystem (core/file_system.h) for tests: forwards every call to another one (the real one
// by default) but can make chosen calls fail, and keeps track of what a power failure would
// leave of the files and directories it saw being written.
//
// Faults: fail the Nth call of a kind (writes, syncs, renames, ...), optionally only for paths
// containing a pattern, with a chosen errno (EIO, ENOSPC), once or from then on ("sticky", like
// a full disk) until cleared. A failing write can first write part of its bytes (a short write),
// as a write(2) that runs out of space does before the call that fails.
//
// Durability, as far as the calls seen tell (the model is the usual POSIX one): a file's data
// is durable after an fsync or fdatasync of it (or a syncfs) with no write or truncation since; a
// name (file or directory) is durable after an fsync of its directory (or a syncfs) with no
// rename or creation of it since. Files and directories that were there before they were first
// seen count as durable. A sync that fails is Linux's: the dirty data or names it covered may
// have been dropped and marked clean, so no later sync makes them durable; only rewriting the
// file from its start (truncation to 0) or removing it ends that.
//
// Thread-safe: capture's thread and its checkpoint worker call it at once.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/file_system.h"

namespace walstream::test {

// The kinds of call a fault can target.
enum class FsOp {
  kOpen,      // openFile, openFileIfExists
  kWrite,     // writeFull, pwriteFull
  kSync,      // fsync, fdatasync, syncFileSystem: a file's data (or the whole file system's)
  kSyncDir,   // fsyncDir: a directory's entries
  kRename,    //
  kUnlink,    //
  kTruncate,  // truncate, ftruncate
  kMakeDirs,  //
};

// One call, as a fault's filter sees it.
struct FsCall {
  FsOp op = FsOp::kWrite;
  std::string path;    // rename: the source
  std::string target;  // rename: the destination; otherwise empty
  size_t bytes = 0;    // writes: the bytes asked for
  std::thread::id thread;
};

struct Fault {
  FsOp op = FsOp::kWrite;
  // Only calls whose path (or rename destination) contains this count ("" = every call).
  std::string pathContains;
  // Optional further filter; calls it returns false for do not count.
  std::function<bool(const FsCall&)> when;
  uint64_t nth = 1;     // the Nth counted call (from when the fault was added) fails
  bool sticky = false;  // and every counted call after it, until clearFaults()
  int error = EIO;
  // Writes: the failing call first writes this many of its bytes (fewer when it has fewer).
  size_t shortWriteBytes = 0;
};

class FaultyFileSystem final : public FileSystem {
 public:
  explicit FaultyFileSystem(FileSystem& base = realFileSystem()) : base_(base) {}

  void addFault(Fault fault);
  void clearFaults();  // calls succeed again (the counts and the durability model stay)

  // Faults injected so far, and the calls that got them.
  uint64_t injected() const;
  std::vector<FsCall> injectedCalls() const;
  // Waits until at least `n` faults were injected; false on timeout.
  bool waitForInjected(uint64_t n, std::chrono::milliseconds timeout) const;
  // Calls of a kind whose path contains `pathContains`, failed ones included.
  uint64_t calls(FsOp op, std::string_view pathContains = {}) const;

  // The files (or directories) seen written, renamed or created whose path contains
  // `pathContains` and that a power failure now could lose, change or leave unreachable: their
  // data or name is not durable, or the name of a directory above them up to `root` is not.
  std::vector<std::string> notDurable(std::string_view pathContains, const std::string& root) const;

  UniqueFd openFile(const std::string& path, int flags, unsigned mode = 0644) override;
  UniqueFd openFileIfExists(const std::string& path, int flags) override;
  void pwriteFull(int fd, const void* buf, size_t n, uint64_t offset,
                  std::string_view path) override;
  void writeFull(int fd, const void* buf, size_t n, std::string_view path) override;
  void fsync(int fd, std::string_view path) override;
  void fdatasync(int fd, std::string_view path) override;
  void syncFileSystem(const std::string& path) override;
  void fsyncDir(const std::string& dir) override;
  void rename(const std::string& from, const std::string& to) override;
  bool unlink(const std::string& path) override;
  void truncate(const std::string& path, uint64_t size) override;
  void ftruncate(int fd, uint64_t size, std::string_view path) override;
  void makeDirs(const std::string& path) override;

 private:
  struct ArmedFault {
    Fault fault;
    uint64_t counted = 0;
  };
  struct Node {
    bool dataDurable = true;
    bool nameDurable = true;
    bool dataLost = false;  // a sync failed while the data was not durable
    bool nameLost = false;  // a sync of its directory failed while the name was not durable
  };

  // Counts the call against every fault; the fault it triggers, if any (errno and short write).
  std::optional<Fault> check(FsCall call);
  // Throws the injected failure as the real call would (an Error naming the path).
  [[noreturn]] static void fail(const Fault& f, std::string_view what, std::string_view path);
  void writeWithFaults(int fd, const void* buf, size_t n, std::optional<uint64_t> offset,
                       std::string_view path);
  void syncWithFaults(int fd, std::string_view path, bool dataOnly);

  // The durability model; requires mu_.
  Node& node(const std::string& path);
  // `emptied`: truncated to nothing, so a failed sync's loss no longer matters.
  void dataChanged(const std::string& path, bool emptied = false);

  FileSystem& base_;
  mutable std::mutex mu_;
  mutable std::condition_variable injectedChanged_;
  std::vector<ArmedFault> faults_;
  std::vector<FsCall> injected_;
  std::map<std::pair<FsOp, std::string>, uint64_t> counts_;
  std::map<std::string, Node> nodes_;  // by path, as the callers spell it
};

}  // namespace walstream::test
