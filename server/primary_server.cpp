#include "server/primary_server.h"

#include <sys/resource.h>
#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/thread_pool.hpp>

#include <csignal>
#include <set>
#include <stdexcept>

#include "core/error.h"
#include "core/log.h"
#include "proto/http/endpoint_text.h"
#include "proto/http/server_access.h"
#include "server/capture/database.h"
#include "server/listener.h"
#include "server/position_requests.h"
#include "server/server_context.h"

namespace walstream::server {

namespace net = boost::asio;

size_t defaultMaxConnections(unsigned long fileLimit, size_t databases, size_t maxSnapshots) {
  const unsigned long reserve = kFileReserve + kFileReservePerDatabase * databases;
  const unsigned long left = fileLimit > reserve ? fileLimit - reserve : 0;
  // C connections with min(C, S) snapshots need C + 2 min(C, S) descriptors: C = left - 2S when
  // that leaves C >= S, else C = left / 3.
  const unsigned long snapshotFiles = 2 * static_cast<unsigned long>(maxSnapshots);
  const unsigned long connections =
      std::max(left / 3, left > snapshotFiles ? left - snapshotFiles : 0);
  return std::clamp<size_t>(connections, 1, 16384);
}

namespace {

// `options` with maxConnections derived from the open-file limit when it was left at 0.
ServerOptions resolved(ServerOptions options, size_t databases) {
  if (options.maxConnections == 0) {
    rlimit limit{};
    const unsigned long files =
        ::getrlimit(RLIMIT_NOFILE, &limit) == 0 ? static_cast<unsigned long>(limit.rlim_cur) : 1024;
    options.maxConnections = defaultMaxConnections(files, databases, options.limits.maxSnapshots);
  }
  return options;
}

}  // namespace

// Member order is destruction order reversed, and it matters: the io_context is destroyed first
// (pending handlers release their sessions, which use the context and the workers), then the
// context, then the worker pool.
struct PrimaryServer::Impl {
  Impl(std::vector<StreamSource*> sources, ServerOptions opts)
      : options(resolved(std::move(opts), sources.size())),
        // Setups and compressions never take every worker (setup_queue.h): at least two
        // threads beside them, for heartbeats and the reads of streams already set up.
        workers(std::max(options.workerThreads, options.limits.maxRunningSetups +
                                                    options.limits.maxRunningCompressions + 2)),
        ctx{io, workers, gate, options.limits, options.maxConnections, {}, {}, {}},
        io(),
        signals(io, SIGINT, SIGTERM, SIGHUP) {
    std::set<std::string> names;
    for (StreamSource* source : sources) {
      ServedName n{source->name(), source->path(), absoluteNormalPath(source->path())};
      if (!names.insert(n.name).second) {
        throw Error("two databases are named " + n.name + "; each must have its own file name");
      }
      ctx.names.push_back(n);
      ctx.databases.push_back(std::make_unique<ServedDatabase>(*source, std::move(n)));
    }
    ctx.backupStatus = options.backupStatus;
    ctx.access = options.access.get();
    if (options.listening && options.listening->valid()) {
      listener = std::make_shared<Listener>(ctx, std::move(*options.listening));
    } else {
      ListenAddress address;
      try {
        address = parseListenAddress(options.listenAddress);
      } catch (const std::invalid_argument& e) {
        throw Error(e.what());
      }
      listener = std::make_shared<Listener>(ctx, address);
    }
    // Last, once nothing can throw: a constructor that fails destroys io before ctx, and the
    // registry's strand must not outlive io; nor may a database keep a listener into it.
    ctx.syncWaiters =
        std::make_unique<httpd::WaiterRegistry>(io.get_executor(), options.limits.maxWaiters);
    hookSyncWaiters(ctx);
  }

  ~Impl() {
    unhookSyncWaiters(ctx);
    gate->close();   // capture threads no longer post to the loop
    workers.join();  // running tasks finish; their results stay queued on the loop
    // Its strand must go before the io_context does (handlers still queued keep what they
    // need of it, and go with the io_context).
    ctx.syncWaiters.reset();
  }

  void shutdown() {
    if (stopping) return;
    stopping = true;
    listener->close();
    boost::system::error_code ignored;
    signals.cancel(ignored);
    ctx.setups.close();
    ctx.compressions.close();
    ctx.registry.closeAll();
    ctx.syncWaiters->close();
  }

  ServerOptions options;
  std::shared_ptr<PostGate> gate = std::make_shared<PostGate>();
  net::thread_pool workers;
  ServerContext ctx;
  net::io_context io;
  net::signal_set signals;
  std::shared_ptr<Listener> listener;
  int stopSignal = 0;
  bool stopping = false;

  // Waits for the next signal: SIGHUP reloads and waits again, the others stop the server.
  void waitForSignal() {
    signals.async_wait([this](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      if (signal == SIGHUP) {
        httpd::reloadServerAccess(options.access.get());
        waitForSignal();
        return;
      }
      stopSignal = signal;
      log::info(std::string("received ") + (signal == SIGINT ? "SIGINT" : "SIGTERM") +
                ", stopping");
      shutdown();
    });
  }
};

PrimaryServer::PrimaryServer(std::vector<StreamSource*> sources, ServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(sources), std::move(options))) {}

PrimaryServer::PrimaryServer(const std::vector<Database*>& databases, ServerOptions options)
    : PrimaryServer(std::vector<StreamSource*>(databases.begin(), databases.end()),
                    std::move(options)) {}

PrimaryServer::~PrimaryServer() = default;

std::string PrimaryServer::boundAddress() const {
  return httpd::endpointText(impl_->listener->localEndpoint());
}

size_t PrimaryServer::maxConnections() const {
  return impl_->ctx.connections.max();
}

int PrimaryServer::run() {
  Impl& impl = *impl_;
  impl.waitForSignal();
  impl.listener->run();
  impl.io.run();
  return impl.stopSignal;
}

void PrimaryServer::stop() {
  net::post(impl_->io, [impl = impl_.get()] { impl->shutdown(); });
}

}  // namespace walstream::server
