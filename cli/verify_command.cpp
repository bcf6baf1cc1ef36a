// walstream verify URL [--against DB]: restores the backup to a temporary file, which checks every
// chain, checksum and the result's integrity; with --against, compares its content with the
// primary's database at the same position.
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "backup/content_digest.h"
#include "backup/restorer.h"
#include "cli/commands.h"
#include "cli/flags.h"
#include "cli/store_arg.h"
#include "core/error.h"
#include "core/file_util.h"
#include "core/pos.h"
#include "storage/object_store.h"

namespace walstream::cli {

namespace {

constexpr const char* kVerifyUsage =
    "Usage: walstream verify [FLAGS] URL\n"
    "\n"
    "Restores the latest state of the backup at URL into a temporary file (checking every block,\n"
    "object, WAL frame chain and the result's PRAGMA integrity_check) and removes it again.\n"
    "With --against DB (the primary's database, on the primary's machine), it restores the\n"
    "position the primary has published and compares the content of every table with DB's;\n"
    "DB must be quiet meanwhile (the comparison waits, up to --timeout, for a moment when the\n"
    "published position stays put and the backup has it). Exit code 0 when everything checks,\n"
    "1 on any difference or failure, 2 on a usage error.\n"
    "\n"
    "Flags:\n";

// A temporary directory, removed with its content.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/walstream-verify-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) throwErrno("cannot create", pattern);
    path_ = pattern;
  }
  ~ScratchDir() { removeAll(path_); }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

// The position DB's primary last published (DB-walstream/position).
Pos publishedPosition(const std::string& db) {
  std::string text = readFile(db + "-walstream/position");
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.pop_back();
  return parsePos(text);
}

// DB's content digest at a moment its published position stays the same for `quiet` around the
// reading, and that position; bounded by `deadline`.
std::pair<Pos, std::string> quietDigest(const std::string& db,
                                        std::chrono::steady_clock::time_point deadline) {
  constexpr auto kQuiet = std::chrono::milliseconds(500);
  while (std::chrono::steady_clock::now() < deadline) {
    const Pos before = publishedPosition(db);
    std::this_thread::sleep_for(kQuiet);
    const std::string digest = backup::contentDigest(db);
    std::this_thread::sleep_for(kQuiet);
    if (publishedPosition(db) == before && !before.empty()) return {before, digest};
  }
  throw Error(db + " kept changing; no quiet moment to compare it with the backup");
}

int verifyAgainst(storage::ObjectStore& store, const std::string& db,
                  std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  ScratchDir scratch;
  for (;;) {
    const auto [pos, digest] = quietDigest(db, deadline);
    backup::RestoreOptions options;
    options.target.pos = pos;
    options.replaceExisting = true;
    try {
      const backup::RestoreResult r =
          backup::restoreDatabase(store, scratch.file("restored.db"), options);
      const std::string restored = backup::contentDigest(scratch.file("restored.db"));
      if (restored != digest) {
        std::printf("DIFFERENT: %s at %s has content %s, the backup restored there has %s\n",
                    db.c_str(), r.position.str().c_str(), digest.c_str(), restored.c_str());
        return 1;
      }
      std::printf("ok: the backup restores %s exactly as %s holds it (content %s)\n",
                  r.position.str().c_str(), db.c_str(), digest.c_str());
      return 0;
    } catch (const Error& e) {
      // The backup may not have the published position yet (it writes every sync interval).
      if (std::chrono::steady_clock::now() >= deadline) throw;
      if (std::string(e.what()).find("the backup ends at") == std::string::npos) throw;
    }
  }
}

}  // namespace

int runVerify(const std::vector<std::string>& args) {
  Flags flags;
  flags.define("against", "DB", "", "compare with this database at the same position");
  flags.define("timeout", "DURATION", "60s", "with --against: how long to wait for a quiet moment");
  defineStoreFlags(flags);
  StoreArg storeArg;
  std::string against;
  std::chrono::milliseconds timeout{};
  try {
    if (!flags.parse(args)) {
      std::fputs(kVerifyUsage, stdout);
      std::fputs(flags.help().c_str(), stdout);
      return 0;
    }
    if (flags.positional().size() != 1) throw UsageError("want exactly one URL");
    storeArg = parseStoreArg(flags.positional().front(), flags);
    against = flags.str("against");
    timeout = flags.duration("timeout");
  } catch (const UsageError& e) {
    std::fprintf(stderr, "walstream verify: %s\n", e.what());
    return 2;
  }
  try {
    const auto store = storeArg.open();
    if (!against.empty()) return verifyAgainst(*store, against, timeout);
    ScratchDir scratch;
    const backup::RestoreResult r =
        backup::restoreDatabase(*store, scratch.file("restored.db"), backup::RestoreOptions{});
    std::printf(
        "ok: restored %s (%llu pages of %u bytes, %llu transactions after snapshot %s); "
        "every chain, checksum and integrity_check passed\n",
        r.position.str().c_str(), static_cast<unsigned long long>(r.pageCount), r.pageSize,
        static_cast<unsigned long long>(r.transactions), r.snapshotKey.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "walstream verify: %s\n", e.what());
    return 1;
  }
}

}  // namespace walstream::cli
