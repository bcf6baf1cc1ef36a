// walstream replica: follow a primary's stream into a local read-only database.
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include "cli/access_flags.h"
#include "cli/checkpoint_pages.h"
#include "cli/commands.h"
#include "cli/config_file.h"
#include "cli/flags.h"
#include "cli/stop_signal.h"
#include "cli/stream_relay.h"
#include "client/promotion.h"
#include "client/replica.h"
#include "client/replica_id.h"
#include "client/status_server.h"
#include "core/error.h"
#include "core/fd_limit.h"
#include "core/instance_lock.h"
#include "core/log.h"
#include "proto/heartbeat_bounds.h"
#include "proto/http/bearer_tokens.h"
#include "proto/http/listen_address.h"
#include "proto/http/server_access.h"
#include "proto/http/tls_client_context.h"

namespace walstream::cli {

namespace {

std::string formatMillis(std::chrono::milliseconds d) {
  const auto ms = d.count();
  if (ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

constexpr const char* kReplicaUsage =
    "Usage: walstream replica --upstream URL [--upstream URL2 ...] [FLAGS] LOCAL_DB\n"
    "       walstream replica --config FILE [FLAGS]\n"
    "\n"
    "Streams a database from the primary at URL (http://host:port, or https://host:port with\n"
    "its certificate checked) into LOCAL_DB and keeps it current. Applications read LOCAL_DB\n"
    "with stock SQLite, read-only, at the same time: every primary transaction appears\n"
    "atomically. LOCAL_DB is created from a snapshot when absent;\n"
    "the applied position is kept in LOCAL_DB-walstream/position so a restart resumes, and\n"
    "the primary's database it follows in LOCAL_DB-walstream/db: a primary that no longer\n"
    "serves that database is refused until LOCAL_DB is removed or --db names another.\n"
    "While it runs it holds a lock on LOCAL_DB-walstream/lock: a second replica on LOCAL_DB\n"
    "and `walstream promote` are refused. A promoted LOCAL_DB is refused (docs/promotion.md).\n"
    "Everything received is checked before it is installed, applied or held in memory (see\n"
    "README, \"A hostile or broken upstream\"); a connection that stalls is made again.\n"
    "SIGINT/SIGTERM stop cleanly (exit 0); SIGHUP reloads --http's certificate and tokens.\n"
    "POST /promote on --http promotes it while it runs: it stops as on SIGTERM, promotes\n"
    "LOCAL_DB as `walstream promote` does, answers 200 and exits 0 (500 and exit code 1 when\n"
    "the promotion fails; `walstream promote LOCAL_DB` then says why or finishes it).\n"
    "\n"
    "--config FILE reads the flags from a YAML file instead, each a top-level key named as the\n"
    "flag without the dashes, and LOCAL_DB from its path: key; flags given here override the\n"
    "file. See docs/config.md.\n"
    "\n"
    "Flags:\n";

void defineReplicaFlags(Flags& flags) {
  flags.defineRepeatable("upstream", "URL",
                         "the primary, http://HOST:PORT or https://HOST:PORT (required). With "
                         "several (or a list in --config), the replica follows the first it "
                         "reaches and moves to the next when it fails, resuming at its position; "
                         "TLS and token flags apply to every one");
  flags.define("tls-ca", "FILE", "",
               "with an https:// upstream: trust the CA certificates of this PEM file instead of "
               "the system's");
  flags.define("tls-insecure", "", "",
               "with an https:// upstream: check neither its certificate nor its name (logged "
               "as a warning; for tests only)");
  flags.define("upstream-token-file", "FILE", "",
               "send the first token of FILE as Authorization: Bearer to the upstream, read again "
               "before each connection (a rotated token needs no restart); else the environment "
               "variable WALSTREAM_UPSTREAM_TOKEN, if set");
  flags.define("db", "NAME", "",
               "database name on the primary (default: the one LOCAL_DB is a replica of; for a "
               "new LOCAL_DB the only one it serves, else LOCAL_DB's file name)");
  flags.define("upstream-protocol", "auto|original", "auto",
               "the upstream's stream protocol: auto (walstream's requests, naming an absolute "
               "--db by path=; switches to the original form when the primary answers in it), or "
               "original (a primary of the original 2022 design: path=, generation=&index=, no "
               "heartbeats; needs --db, the database's path on the primary)");
  flags.define(
      "http", "ADDR", "",
      "serve /status, /metrics, /healthz and /wait on ADDR (:9091, 127.0.0.1:9091, [::1]:9091), "
      "and POST /promote, which stops the replica and promotes LOCAL_DB (docs/promotion.md)");
  defineServerAccessFlags(flags);
  flags.define(
      "serve-stream", "ADDR", "",
      "serve downstream replicas on ADDR (:9092, 127.0.0.1:9092; port 0: any free "
      "port) from what this replica has applied: /stream, /status, /pos, /metrics and "
      "/healthz as a primary serves them, at the upstream's positions, under the name "
      "of the database followed, with --http's TLS and token flags "
      "(docs/cascading.md). ADDR is bound at start; streams are served once the replica has a "
      "position (at once when it resumes one)");
  flags.define("serve-window", "N", "32",
               "with --serve-stream: WAL indexes of the upstream kept under "
               "LOCAL_DB-walstream/serve/ for resuming downstream replicas (kept across a restart "
               "only when it ends exactly at LOCAL_DB's position)");
  flags.define("min-checkpoint-pages", "N", "1000",
               "checkpoint LOCAL_DB's WAL (PASSIVE, or restart it when no reader is in it) past "
               "N pages");
  flags.define("max-checkpoint-pages", "N", "10000",
               "wait briefly for readers to restart LOCAL_DB's WAL past N pages");
  flags.define("heartbeat", "DURATION", "1s",
               "ask the primary for a heartbeat this often (100ms to 1h); 5 missed ones (at "
               "least 3s) mean the connection is dead");
  flags.define("stall-timeout", "DURATION", "1m",
               "reconnect when the primary claims more (a later position, an unfinished "
               "record) and nothing arrives to apply for this long, or when the response to a "
               "stream request has not begun within it (1s to 1h)");
  flags.define("max-connections", "N", "0",
               "--http connections held open at once; beyond it new ones are closed at once. 0: "
               "half of the open-file limit left after a reserve of 64 for LOCAL_DB and the "
               "stream, at most 1024 (the soft limit is first raised to the hard one)");
  flags.define("max-waiters", "N", "1024",
               "GET /wait requests on --http waiting at once; beyond it one is answered 503 with "
               "Retry-After (docs/read-your-writes.md)");
  flags.define("header-timeout", "DURATION", "10s",
               "close an --http connection whose request (TLS handshake, header and body) is not "
               "complete this long after it was accepted; bytes that trickle in do not extend "
               "it. Each connection carries one request, so there is no idle wait between "
               "requests (100ms to 1h)");
  defineConfigFlag(flags);
}

// What the flags ask of the replica command.
struct ReplicaSettings {
  client::ReplicaOptions options;
  std::optional<httpd::ListenAddress> listen;      // --http
  uint64_t maxConnections = 0;                     // --max-connections; 0: from the file limit
  uint64_t maxWaiters = 1024;                      // --max-waiters
  std::chrono::milliseconds headerTimeout{10000};  // --header-timeout
  std::shared_ptr<httpd::ServerAccess> access;     // --http's TLS and tokens; or null
  std::string serveStream;                         // --serve-stream; empty: none
  uint32_t serveWindow = 32;                       // --serve-window
};

// How the replica reaches its upstream: TLS for https:// (--tls-ca, --tls-insecure) and the
// token (--upstream-token-file, else WALSTREAM_UPSTREAM_TOKEN). Throws UsageError.
client::UpstreamAccess upstreamAccess(const Flags& flags,
                                      const std::vector<client::Upstream>& upstreams) {
  client::UpstreamAccess access;
  const bool anyTls = std::any_of(upstreams.begin(), upstreams.end(),
                                  [](const client::Upstream& u) { return u.tls; });
  if (!anyTls && (flags.given("tls-ca") || flags.given("tls-insecure"))) {
    throw UsageError("--tls-ca and --tls-insecure need an https:// --upstream");
  }
  if (flags.given("tls-ca") && flags.given("tls-insecure")) {
    throw UsageError("--tls-ca and --tls-insecure exclude each other");
  }
  try {
    if (anyTls) {
      access.tls = std::make_shared<httpd::TlsClientContext>(
          httpd::TlsClientOptions{flags.str("tls-ca"), flags.boolean("tls-insecure")});
    }
    if (flags.given("upstream-token-file")) {
      access.tokenFile = flags.str("upstream-token-file");
      access.token = httpd::readUpstreamToken(access.tokenFile);
    } else if (const char* env = std::getenv("WALSTREAM_UPSTREAM_TOKEN"); env != nullptr) {
      const std::vector<std::string> tokens =
          httpd::parseTokenFile(env, "WALSTREAM_UPSTREAM_TOKEN");
      if (tokens.empty()) throw Error("WALSTREAM_UPSTREAM_TOKEN is set but holds no token");
      access.token = tokens.front();
    }
  } catch (const Error& e) {
    throw UsageError(e.what());
  }
  return access;
}

// LOCAL_DB: the argument, or the path: of the --config file (`fromFile`, nullopt without one).
std::string localDatabase(const Flags& flags,
                          const std::optional<std::vector<ConfigDatabase>>& fromFile) {
  if (!fromFile || fromFile->empty()) {
    if (flags.positional().size() != 1) {
      throw UsageError(fromFile
                           ? "want exactly one LOCAL_DB argument, or path: in the --config file"
                           : "want exactly one LOCAL_DB argument");
    }
    return flags.positional()[0];
  }
  if (!flags.positional().empty()) {
    throw UsageError(fromFile->front().origin +
                     ": path: names LOCAL_DB already; give no LOCAL_DB argument with --config");
  }
  return fromFile->front().path;
}

// Reads the --config file into `flags` first. Throws UsageError for a missing, malformed or
// out-of-range flag: a --heartbeat the primary refuses is refused here, once, rather than have
// every request answered 400.
ReplicaSettings replicaSettings(Flags& flags) {
  const std::optional<std::vector<ConfigDatabase>> fromFile = readConfigFlag(flags, false, {});
  if (!flags.given("upstream")) throw UsageError("--upstream is required");
  const std::string localPath = localDatabase(flags, fromFile);
  ReplicaSettings s;
  client::ReplicaOptions& options = s.options;
  for (const std::string& url : flags.list("upstream")) {
    try {
      options.upstreams.push_back(client::parseUpstream(url));
    } catch (const Error& e) {
      throw flags.error("upstream", std::string("--upstream: ") + e.what());
    }
  }
  options.access = upstreamAccess(flags, options.upstreams);
  options.db = flags.str("db");
  const auto protocol = client::parseUpstreamProtocol(flags.str("upstream-protocol"));
  if (!protocol) {
    throw flags.error("upstream-protocol", "--upstream-protocol " + flags.str("upstream-protocol") +
                                               " is not one of: auto, original");
  }
  options.upstreamProtocol = *protocol;
  if (*protocol == client::UpstreamProtocol::kOriginal && options.db.empty()) {
    throw UsageError(
        "--upstream-protocol original needs --db (the database's path on the primary)");
  }
  options.localPath = localPath;
  const CheckpointPages pages = checkpointPages(flags);
  options.applier.minCheckpointPages = pages.min;
  options.applier.maxCheckpointPages = pages.max;
  options.heartbeatInterval = flags.duration("heartbeat");
  if (options.heartbeatInterval < proto::kMinHeartbeat ||
      options.heartbeatInterval > proto::kMaxHeartbeat) {
    throw flags.error("heartbeat",
                      "--heartbeat " + flags.str("heartbeat") + " is out of range: want " +
                          formatMillis(proto::kMinHeartbeat) + " to " +
                          formatMillis(proto::kMaxHeartbeat) + " (the primary refuses others)");
  }
  options.stallTimeout = flags.duration("stall-timeout");
  if (options.stallTimeout < std::chrono::seconds(1) ||
      options.stallTimeout > std::chrono::hours(1)) {
    throw flags.error("stall-timeout", "--stall-timeout " + flags.str("stall-timeout") +
                                           " is out of range: want 1s to 1h");
  }
  if (flags.given("http")) {
    try {
      s.listen = httpd::parseListenAddress(flags.str("http"));
    } catch (const std::invalid_argument& e) {
      throw flags.error("http", std::string("invalid value for --http: ") + e.what());
    }
  }
  s.maxConnections = flags.u64("max-connections");
  s.maxWaiters = flags.u64("max-waiters");
  if (s.maxWaiters < 1 || s.maxWaiters > 65536) {
    throw flags.invalidValue("max-waiters", "want 1 to 65536");
  }
  s.headerTimeout = flags.duration("header-timeout");
  if (s.headerTimeout < std::chrono::milliseconds(100) || s.headerTimeout > std::chrono::hours(1)) {
    throw flags.invalidValue("header-timeout", "want 100ms to 1h");
  }
  s.access = serverAccessFromFlags(flags);
  if (flags.given("serve-stream")) {
    s.serveStream = flags.str("serve-stream");
    try {
      httpd::parseListenAddress(s.serveStream);
    } catch (const std::invalid_argument& e) {
      throw flags.error("serve-stream",
                        std::string("invalid value for --serve-stream: ") + e.what());
    }
  } else if (flags.given("serve-window")) {
    throw flags.error("serve-window", "--serve-window needs --serve-stream");
  }
  s.serveWindow = flags.u32("serve-window", 1);
  return s;
}

// --serve-stream's relay, not started; nullopt without the flag.
std::optional<StreamRelay> makeRelay(const ReplicaSettings& s) {
  if (s.serveStream.empty()) return std::nullopt;
  relay::RelayOptions relayOptions;
  relayOptions.localPath = s.options.localPath;
  relayOptions.id = s.options.access.via;
  relayOptions.windowIndexes = s.serveWindow;
  relayOptions.maxPublishPages = s.options.applier.maxCheckpointPages;
  server::ServerOptions serverOptions;
  serverOptions.listenAddress = s.serveStream;
  serverOptions.access = s.access;
  return std::optional<StreamRelay>(std::in_place, relayOptions, serverOptions);
}

// How long POST /promote's checkpoint waits for readers to leave LOCAL_DB's WAL: the default
// --timeout of `walstream promote`.
constexpr std::chrono::seconds kPromoteCheckpointTimeout{30};

// POST /promote, from the status server's thread to the one that waits for the stop signals,
// which then stops the replica and promotes.
class PromotionHandOver {
 public:
  explicit PromotionHandOver(StopSignalWaiter& waiter) : waiter_(waiter) {}

  client::PromotionStarter starter() {
    return [this](client::PromotionReply reply) {
      {
        std::lock_guard lock(mu_);
        reply_ = std::move(reply);
      }
      waiter_.wake();
    };
  }
  client::PromotionReply take() {
    std::lock_guard lock(mu_);
    return std::move(reply_);
  }

 private:
  StopSignalWaiter& waiter_;
  std::mutex mu_;
  client::PromotionReply reply_;
};

std::unique_ptr<client::StatusServer> startStatusServer(const ReplicaSettings& s,
                                                        client::ReplicaState& state,
                                                        std::optional<unsigned long> fileLimit,
                                                        client::PromotionStarter promote) {
  if (!s.listen) return nullptr;
  const client::StatusServerLimits limits{
      s.maxConnections > 0 ? s.maxConnections
                           : client::defaultMaxStatusConnections(fileLimit.value_or(1024)),
      s.maxWaiters, s.headerTimeout};
  auto status = std::make_unique<client::StatusServer>(*s.listen, state, limits, s.access,
                                                       std::move(promote));
  log::info("replica status: listening on " + status->address() + " (open-file limit " +
            (fileLimit ? std::to_string(*fileLimit) : std::string("unknown")) + ", at most " +
            std::to_string(status->maxConnections()) + " connections" +
            (s.access && s.access->requiresToken() ? ", bearer tokens required" : "") + ")");
  return status;
}

// POST /promote, once the replica has stopped: the promotion's steps under the instance lock
// the replica held all along (client/promotion.h), answered through `reply`. The exit code.
int promoteStopped(const std::string& db, const InstanceLock& lock,
                   const client::PromotionReply& reply) {
  try {
    client::checkPromotionCandidate(db);  // a replica that never had a snapshot: said plainly
    const std::string text =
        client::describePromotion(db, client::promoteReplica(db, lock, kPromoteCheckpointTimeout));
    log::info(text.substr(0, text.find('\n')));
    reply({200, text});
    return 0;
  } catch (const std::exception& e) {
    log::error(db + ": the promotion failed: " + e.what());
    reply({500, std::string(e.what()) + "\n"});
    return 1;
  }
}

// Runs the replica (and its status server, when asked for) until SIGINT or SIGTERM, or until
// POST /promote, which stops it the same way and then promotes LOCAL_DB. The stop signals must
// be blocked before this starts any thread, so that only the waiting thread sees them.
int followUntilStopped(const ReplicaSettings& s, const sigset_t& signals,
                       std::optional<unsigned long> fileLimit) {
  try {
    // Held until the replica has stopped (or promoted): a primary, another replica or `walstream
    // promote` on the same database is refused while it is (core/instance_lock.h).
    const InstanceLock lock = InstanceLock::acquire(s.options.localPath, "replica");
    client::ReplicaState state;
    // Every replica names itself on its stream requests, so that a relay refuses a cycle.
    ReplicaSettings settings = s;
    settings.options.access.via = client::loadOrCreateReplicaId(s.options.localPath);
    // Declared before the replica, whose applier tells it every publish; stopped before it.
    std::optional<StreamRelay> relay = makeRelay(settings);
    client::ReplicaOptions options = settings.options;
    if (relay) options.applier.listener = &*relay;
    std::optional<client::Replica> replica(std::in_place, options, state);
    StopSignalWaiter waiter(signals);
    PromotionHandOver promotion(waiter);
    const std::unique_ptr<client::StatusServer> status =
        startStatusServer(s, state, fileLimit, promotion.starter());
    // Binds at once, like --http: an address in use is an error before the replica starts.
    if (relay) relay->start(state);
    if (s.options.access.tls && !s.options.access.tls->verifies()) {
      log::warn(
          "--tls-insecure: the upstream's certificate and name are not checked; anyone on "
          "the path can read and change the stream");
    }
    std::string upstreams;
    for (const client::Upstream& u : s.options.upstreams) {
      upstreams += (upstreams.empty() ? "" : ", then ") + u.url;
    }
    log::info(s.options.localPath + ": following " + upstreams);
    std::thread worker([&] { replica->run(); });
    const std::optional<std::string> stopSignal =
        waiter.wait([&s] { httpd::reloadServerAccess(s.access.get()); });
    log::info(stopSignal ? "received " + *stopSignal + "; stopping"
                         : "POST /promote: stopping to promote " + s.options.localPath);
    // Downstream streams and their snapshot readers go first: the applier closes LOCAL_DB's
    // connections only once no other connection of this process is open on it.
    if (relay) relay->stop();
    // The one way the replica stops: no apply starts after stop(), the thread's end waits for
    // the one in flight, and the applier closes as at every clean stop (ReplicaApplier).
    replica->stop();
    worker.join();
    replica.reset();
    if (stopSignal) {
      log::info(s.options.localPath + ": stopped");
      return 0;
    }
    // A SIGINT or SIGTERM meanwhile stays pending: the promotion goes on, and the exit ends it.
    return promoteStopped(s.options.localPath, lock, promotion.take());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "walstream replica: %s\n", e.what());
    return 1;
  }
}

}  // namespace

int runReplica(const std::vector<std::string>& args) {
  Flags flags;
  defineReplicaFlags(flags);
  ReplicaSettings settings;
  try {
    if (!flags.parse(args)) {
      std::printf("%s%s", kReplicaUsage, flags.help().c_str());
      return 0;
    }
    settings = replicaSettings(flags);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "walstream replica: %s\n", e.what());
    return 2;
  }

  const sigset_t signals = stopSignals();
  blockStopSignals(signals);

  // Every status connection holds a descriptor: the soft limit is raised to the hard one, before
  // the connection cap is derived from it.
  const std::optional<unsigned long> fileLimit = raiseFileLimit();
  if (!fileLimit) {
    log::warn(std::string("cannot read the open-file limit: ") + std::strerror(errno));
  }
  return followUntilStopped(settings, signals, fileLimit);
}

}  // namespace walstream::cli
