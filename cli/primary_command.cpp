// walstream primary [FLAGS] DB [DB ...] (or --config FILE naming them): capture each database into
// its shadow WAL, and serve the streams over HTTP when --http is given.
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <thread>

#include "cli/access_flags.h"
#include "cli/checkpoint_pages.h"
#include "cli/commands.h"
#include "cli/config_file.h"
#include "cli/flags.h"
#include "cli/stop_signal.h"
#include "cli/store_arg.h"
#include "core/error.h"
#include "core/fd_limit.h"
#include "core/file_util.h"
#include "core/instance_lock.h"
#include "core/log.h"
#include "proto/http/server_access.h"
#include "server/backup/backup_writer.h"
#include "server/capture/database.h"
#include "server/primary_server.h"
#include "storage/object_store.h"

namespace walstream::cli {

namespace {

constexpr const char* kPrimaryUsage =
    "Usage: walstream primary [FLAGS] DB [DB ...]\n"
    "       walstream primary --config FILE [FLAGS]\n"
    "\n"
    "Captures each SQLite database's WAL into DB-walstream/ and, with --http, serves it to\n"
    "replicas: GET /stream?db=NAME&pos=POS, /status, /metrics, /healthz, and for\n"
    "read-your-writes GET /pos and POST /sync?db=NAME&timeout=D (docs/read-your-writes.md).\n"
    "Each database is served under its file name. With --tls-cert and --tls-key it serves\n"
    "HTTPS; with --token-file every endpoint but /healthz wants Authorization: Bearer TOKEN.\n"
    "SIGHUP reloads the certificate and the tokens for new connections (open streams go on).\n"
    "Stops on SIGINT or SIGTERM.\n"
    "\n"
    "--config FILE reads the flags from a YAML file instead, each a top-level key named as the\n"
    "flag without the dashes, and the databases from its databases: list (a path: each, with\n"
    "per-database capture and backup keys); flags given here override the file. See\n"
    "docs/config.md.\n"
    "\n"
    "Flags:\n";

// One database to capture, with the options its --config entry may set for it alone.
struct DatabaseArgs {
  std::string path;
  CaptureOptions capture;
  // Its backup, the URL final; nullopt without one.
  std::optional<backup::BackupOptions> backup;
  storage::StoreOptions backupStore;  // with a backup: the --s3-* flags
};

struct PrimaryArgs {
  std::vector<DatabaseArgs> databases;
  std::string http;           // empty: capture only
  size_t maxConnections = 0;  // 0: derived from the open-file limit
  size_t maxSnapshots = 8;
  size_t maxStreams = 64;
  size_t maxWaiters = 1024;
  std::chrono::milliseconds stallTimeout{10000};
  std::chrono::milliseconds headerTimeout{10000};  // --header-timeout, else --stall-timeout
  std::chrono::milliseconds idleTimeout{10000};    // --idle-timeout, else --stall-timeout
  std::shared_ptr<httpd::ServerAccess> access;     // --tls-cert, --tls-key, --token-file; or null
};

// The keys a `databases:` entry of --config may set for its database alone (docs/config.md).
std::set<std::string> perDatabaseKeys() {
  return {"monitor-delay",
          "min-checkpoint-pages",
          "max-checkpoint-pages",
          "checkpoint-interval",
          "shadow-retention",
          "busy-timeout",
          "backup",
          "snapshot-interval",
          "retention",
          "backup-sync-interval",
          "backup-max-lag"};
}

// The backup options of --backup and its companions; nullopt without --backup.
std::optional<backup::BackupOptions> parseBackupArgs(const Flags& flags) {
  for (const char* companion : {"snapshot-interval", "retention", "backup-sync-interval",
                                "backup-max-lag", "s3-credentials", "s3-part-size"}) {
    if (!flags.given("backup") && flags.given(companion)) {
      throw flags.error(companion, std::string("--") + companion + " needs --backup");
    }
  }
  if (!flags.given("backup")) return std::nullopt;
  backup::BackupOptions b;
  b.url = flags.str("backup");
  b.snapshotInterval = flags.duration("snapshot-interval");
  b.retention = flags.duration("retention");
  b.syncInterval = flags.duration("backup-sync-interval");
  b.maxLagBytes = flags.bytes("backup-max-lag");
  for (const char* positive : {"snapshot-interval", "retention"}) {
    if (flags.duration(positive).count() <= 0) {
      throw flags.error(positive, "--snapshot-interval and --retention want positive durations");
    }
  }
  if (b.maxLagBytes == 0) {
    throw flags.error("backup-max-lag", "--backup-max-lag wants a positive size");
  }
  return b;
}

// --header-timeout or --idle-timeout: positive when given, else --stall-timeout.
std::chrono::milliseconds timeoutOrStall(const Flags& flags, const char* flag,
                                         std::chrono::milliseconds stallTimeout) {
  if (!flags.given(flag)) return stallTimeout;
  const std::chrono::milliseconds timeout = flags.duration(flag);
  if (timeout.count() <= 0) throw flags.invalidValue(flag, "want a positive duration");
  return timeout;
}

CaptureOptions captureOptions(const Flags& flags) {
  CaptureOptions c;
  c.monitorDelay = flags.duration("monitor-delay");
  const CheckpointPages pages = checkpointPages(flags);
  c.minCheckpointPages = pages.min;
  c.maxCheckpointPages = pages.max;
  c.checkpointInterval = flags.duration("checkpoint-interval");
  c.shadowRetention = flags.u32("shadow-retention", 1);
  c.busyTimeout = flags.duration("busy-timeout");
  return c;
}

bool entrySets(const ConfigDatabase& entry, const std::string& key) {
  for (const ConfigSetting& s : entry.settings) {
    if (s.key == key) return true;
  }
  return false;
}

// `entry`'s database: the flags with its own keys on top (the command line's still win).
DatabaseArgs databaseArgs(const Flags& flags, const ConfigDatabase& entry, size_t count) {
  Flags own = flags;
  applyConfigSettings(own, entry.settings);
  DatabaseArgs db{entry.path, captureOptions(own), parseBackupArgs(own), {}};
  if (!db.backup) return db;
  // A URL of the entry's own is this database's store; one URL for several databases holds
  // each under URL/NAME.
  const bool ownUrl = entrySets(entry, "backup") && !flags.onCommandLine("backup");
  if (!ownUrl && count > 1) db.backup->url = storeUrlBelow(db.backup->url, baseName(entry.path));
  db.backupStore = parseStoreArg(db.backup->url, own).options;
  return db;
}

// The DB arguments, or the databases: list of --config (which then sets the flags' values).
std::vector<ConfigDatabase> databaseEntries(Flags& flags) {
  std::optional<std::vector<ConfigDatabase>> entries =
      readConfigFlag(flags, true, perDatabaseKeys());
  if (!entries) {
    if (flags.positional().empty()) throw UsageError("no database given (want DB [DB ...])");
    entries.emplace();
    for (const auto& path : flags.positional()) entries->push_back({path, "", {}});
    return *entries;
  }
  if (!flags.positional().empty()) {
    throw UsageError("--config names the databases (databases:); give no DB argument");
  }
  if (entries->empty()) {
    throw UsageError(flags.str("config") + ": no database given (want a databases: list)");
  }
  return *entries;
}

std::vector<DatabaseArgs> parseDatabases(Flags& flags) {
  const std::vector<ConfigDatabase> entries = databaseEntries(flags);
  std::set<std::string> names;
  for (const ConfigDatabase& entry : entries) {
    const std::string name = baseName(entry.path);
    if (!names.insert(name).second) {
      throw UsageError((entry.origin.empty() ? "" : entry.origin + ": ") + "two databases named " +
                       name +
                       " were given; each is served under its file name, which must be "
                       "unique");
    }
  }
  std::vector<DatabaseArgs> out;
  for (const ConfigDatabase& entry : entries) {
    out.push_back(databaseArgs(flags, entry, entries.size()));
  }
  return out;
}

PrimaryArgs parseArgs(Flags& flags) {
  PrimaryArgs out;
  out.databases = parseDatabases(flags);
  out.http = flags.str("http");
  if (flags.given("http")) {
    try {
      server::parseListenAddress(out.http);
    } catch (const std::invalid_argument& e) {
      throw flags.error("http", std::string("invalid value for --http: ") + e.what());
    }
  }
  out.maxConnections = flags.u64("max-connections");
  out.maxSnapshots = flags.u64("max-snapshots");
  if (out.maxSnapshots < 1 || out.maxSnapshots > 65536) {
    throw flags.invalidValue("max-snapshots", "want 1 to 65536");
  }
  out.stallTimeout = flags.duration("stall-timeout");
  if (out.stallTimeout.count() <= 0) {
    throw flags.invalidValue("stall-timeout", "want a positive duration");
  }
  out.maxStreams = flags.u64("max-streams");
  if (out.maxStreams < 1 || out.maxStreams > 65536) {
    throw flags.invalidValue("max-streams", "want 1 to 65536");
  }
  out.maxWaiters = flags.u64("max-waiters");
  if (out.maxWaiters < 1 || out.maxWaiters > 65536) {
    throw flags.invalidValue("max-waiters", "want 1 to 65536");
  }
  out.headerTimeout = timeoutOrStall(flags, "header-timeout", out.stallTimeout);
  out.idleTimeout = timeoutOrStall(flags, "idle-timeout", out.stallTimeout);
  out.access = serverAccessFromFlags(flags);
  return out;
}

void defineFlags(Flags& flags) {
  flags.define("http", "ADDR", "",
               "serve HTTP on ADDR (:9090, 127.0.0.1:9090, [::1]:9090; port 0: any free "
               "port); without it, capture only");
  defineServerAccessFlags(flags);
  flags.define("monitor-delay", "DURATION", "0", "batch WAL changes for this long after a wake-up");
  flags.define("min-checkpoint-pages", "N", "1000",
               "PASSIVE checkpoint and WAL restart once the WAL holds N pages");
  flags.define("max-checkpoint-pages", "N", "10000",
               "past N pages, wait up to --busy-timeout for the write lock and up to 1s for "
               "readers to restart the WAL");
  flags.define("checkpoint-interval", "DURATION", "1m", "checkpoint a non-empty WAL this often");
  flags.define("shadow-retention", "N", "32",
               "WAL indexes of shadow WAL kept for resuming replicas");
  flags.define("busy-timeout", "DURATION", "1s", "bound on waits for the application's locks");
  flags.define("max-connections", "N", "0",
               "HTTP connections held open at once; beyond it new ones are closed at once. 0: "
               "derived from the open-file limit (the soft limit is first raised to the hard "
               "one): of what is left after a reserve of 64 + 32 per database for capture, one "
               "descriptor per connection and two more per snapshot being sent (--max-snapshots), "
               "at most 16384");
  flags.define("max-snapshots", "N", "8",
               "snapshots being sent at once, all databases together; beyond it a stream that "
               "needs one is answered 503 with Retry-After. Each holds a SQLite read transaction "
               "(2 descriptors) and the pages of the current WAL index in memory (up to "
               "--max-checkpoint-pages pages)");
  flags.define("max-streams", "N", "64",
               "/stream responses open at once, all databases together; beyond it a new /stream "
               "request is answered 503 with Retry-After (/status, /metrics and /healthz still "
               "are)");
  flags.define("max-waiters", "N", "1024",
               "POST /sync requests waiting for capture at once, all databases together; beyond "
               "it one is answered 503 with Retry-After (docs/read-your-writes.md)");
  flags.define("stall-timeout", "DURATION", "10s",
               "drop a stream whose client has taken no byte for this long (a slow reader is "
               "never dropped); also the default of --header-timeout and --idle-timeout");
  flags.define("header-timeout", "DURATION", "",
               "close a connection whose request (header and body) is not complete this long "
               "after the connection was accepted (after its TLS handshake, which has as long), "
               "or after the first byte of a later request on it; bytes that trickle in do not "
               "extend it. Default: --stall-timeout");
  flags.define("idle-timeout", "DURATION", "",
               "close a keep-alive connection that sends no byte of its next request for this "
               "long after an answer. Default: --stall-timeout");
  flags.define("backup", "URL", "",
               "back up continuously to this store (file:///ABSOLUTE/PATH or "
               "s3://BUCKET/PREFIX?endpoint=URL&region=REGION&force-path-style=true): snapshots "
               "and every WAL segment, restorable with 'walstream restore'. With several "
               "databases, each goes under URL/NAME");
  flags.define("snapshot-interval", "DURATION", "24h",
               "with --backup: a new snapshot this long after the last one");
  flags.define("retention", "DURATION", "24h",
               "with --backup: remove what is needed only to restore points older than this");
  flags.define("backup-sync-interval", "DURATION", "1s",
               "with --backup: write the WAL captured meanwhile as one object at most this often");
  flags.define("backup-max-lag", "SIZE", "1GiB",
               "with --backup: past this much WAL not yet backed up, stop holding it in the "
               "shadow WAL, report unhealthy, and start over with a snapshot once the store "
               "works again");
  defineStoreFlags(flags);
  defineConfigFlag(flags);
}

// The backup writer of each database, null for one without a backup; none when no database has
// one.
std::vector<std::unique_ptr<backup::BackupWriter>> startBackups(
    const PrimaryArgs& parsed, std::vector<std::unique_ptr<Database>>& databases) {
  std::vector<std::unique_ptr<backup::BackupWriter>> writers;
  for (size_t i = 0; i < databases.size(); ++i) {
    const DatabaseArgs& args = parsed.databases[i];
    if (!args.backup) {
      writers.emplace_back();
      continue;
    }
    writers.push_back(std::make_unique<backup::BackupWriter>(
        *databases[i], storage::openObjectStore(args.backup->url, args.backupStore), *args.backup));
    log::info(databases[i]->path() + ": backing up to " + args.backup->url);
  }
  for (const auto& writer : writers) {
    if (writer) return writers;
  }
  return {};
}

// A clean stop writes everything committed before it to the store, bounded in time.
void stopBackups(std::vector<std::unique_ptr<backup::BackupWriter>>& writers,
                 std::vector<std::unique_ptr<Database>>& databases) {
  constexpr auto kFinalWrite = std::chrono::seconds(5);
  for (size_t i = 0; i < writers.size(); ++i) {
    if (!writers[i]) continue;
    // Everything committed before the stop is captured first, then written to the store.
    const Pos end = databases[i]
                        ->syncBarrier(std::chrono::seconds(2))
                        .value_or(databases[i]->writtenPosition());
    writers[i]->flush();
    if (!end.empty() && !writers[i]->waitForBackedUp(end, kFinalWrite)) {
      log::warn(databases[i]->path() + ": backup did not reach " + end.str() +
                " before the stop; it resumes from the store's end at the next start");
    }
  }
  writers.clear();
}

std::string timeText(int64_t ms) {
  return ms == 0
             ? std::string()
             : formatRfc3339(std::chrono::system_clock::time_point(std::chrono::milliseconds(ms)));
}

proto::BackupStatusJson backupStatusJson(const backup::BackupStatus& s) {
  return {s.url,       s.backedUp.str(),          s.lagBytes, s.lagSeconds,
          s.lastError, timeText(s.lastErrorAtMs), s.errors,   timeText(s.lastSnapshotAtMs),
          s.overMaxLag};
}

// The HTTP server for --http, listening; nullptr without --http. Throws on a listen error.
// `backups` (one per database, or none) must outlive the server.
std::unique_ptr<server::PrimaryServer> startServer(
    const PrimaryArgs& parsed, const std::vector<Database*>& served,
    std::optional<unsigned long> fileLimit,
    const std::vector<std::unique_ptr<backup::BackupWriter>>& backups) {
  if (parsed.http.empty()) return nullptr;
  server::ServerOptions options;
  if (!backups.empty()) {
    options.backupStatus = [&backups](size_t i) -> std::optional<proto::BackupStatusJson> {
      if (i >= backups.size() || !backups[i]) return std::nullopt;
      return backupStatusJson(backups[i]->status());
    };
  }
  options.listenAddress = parsed.http;
  options.limits.maxSnapshots = parsed.maxSnapshots;
  options.maxConnections = parsed.maxConnections > 0
                               ? parsed.maxConnections
                               : server::defaultMaxConnections(fileLimit.value_or(1024),
                                                               served.size(), parsed.maxSnapshots);
  options.limits.writeStallTimeout = parsed.stallTimeout;
  options.limits.requestTimeout = parsed.headerTimeout;
  options.limits.idleTimeout = parsed.idleTimeout;
  options.limits.maxStreams = parsed.maxStreams;
  options.limits.maxWaiters = parsed.maxWaiters;
  options.access = parsed.access;
  auto server = std::make_unique<server::PrimaryServer>(served, options);
  const std::string scheme = parsed.access ? parsed.access->scheme() : "http";
  log::info("listening on " + scheme + "://" + server->boundAddress() + " (open-file limit " +
            (fileLimit ? std::to_string(*fileLimit) : std::string("unknown")) + ", at most " +
            std::to_string(server->maxConnections()) + " connections, " +
            std::to_string(parsed.maxSnapshots) + " snapshots, " +
            std::to_string(parsed.maxStreams) + " streams" +
            (parsed.access && parsed.access->requiresToken() ? ", bearer tokens required" : "") +
            ")");
  return server;
}

// One capture thread per database; a capture that stops on an error is logged, the others go on.
std::vector<std::jthread> startCaptures(std::vector<std::unique_ptr<Database>>& databases) {
  std::vector<std::jthread> captures;
  for (auto& db : databases) {
    captures.emplace_back([&db = *db](std::stop_token stop) {
      try {
        db.run(stop);
      } catch (const std::exception& e) {
        log::error(db.path() + ": capture stopped: " + e.what());
      }
    });
  }
  return captures;
}

}  // namespace

int runPrimary(const std::vector<std::string>& args) {
  Flags flags;
  defineFlags(flags);
  PrimaryArgs parsed;
  try {
    if (!flags.parse(args)) {
      std::fputs(kPrimaryUsage, stdout);
      std::fputs(flags.help().c_str(), stdout);
      return 0;
    }
    parsed = parseArgs(flags);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "walstream primary: %s\n", e.what());
    return 2;
  }

  const sigset_t signals = stopSignals();
  blockStopSignals(signals);

  // Every connection holds a descriptor: raise the soft limit before any is accepted, so the
  // connection cap derived from it leaves capture its reserve.
  const std::optional<unsigned long> fileLimit = raiseFileLimit();

  // Held until every capture has stopped: a second primary, a replica or `walstream promote` on
  // one of these databases is refused meanwhile (core/instance_lock.h). Taken before anything
  // else touches DB-walstream/.
  std::vector<InstanceLock> locks;
  try {
    for (const DatabaseArgs& db : parsed.databases) {
      locks.push_back(InstanceLock::acquire(db.path, "primary"));
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "walstream primary: %s\n", e.what());
    return 1;
  }

  std::vector<std::unique_ptr<Database>> databases;
  std::vector<Database*> served;
  for (const DatabaseArgs& db : parsed.databases) {
    databases.push_back(std::make_unique<Database>(db.path, db.capture));
    served.push_back(databases.back().get());
  }

  // Backups wait for their capture to start; the server shows their status.
  std::vector<std::unique_ptr<backup::BackupWriter>> backups = startBackups(parsed, databases);
  std::unique_ptr<server::PrimaryServer> server;
  try {
    server = startServer(parsed, served, fileLimit, backups);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "walstream primary: cannot serve HTTP on %s: %s\n", parsed.http.c_str(),
                 e.what());
    return 1;
  }

  std::vector<std::jthread> captures = startCaptures(databases);
  if (server) {
    // The server's signal handlers are installed; let this thread, its event loop, take them.
    pthread_sigmask(SIG_UNBLOCK, &signals, nullptr);
    server->run();
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    server.reset();  // every session, snapshot reader and iterator is gone before capture stops
  } else {
    // Nothing to reload without a server.
    log::info("received " + waitForStopSignal(signals, [] { httpd::reloadServerAccess(nullptr); }) +
              ", stopping");
  }

  stopBackups(backups, databases);
  for (auto& t : captures) t.request_stop();
  for (auto& db : databases) db->wake();
  for (auto& t : captures) t.join();
  log::info("stopped");
  return 0;
}

}  // namespace walstream::cli
