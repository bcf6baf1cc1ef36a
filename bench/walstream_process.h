// The walstream binary under test, run as `walstream primary` and `walstream replica` child
// processes on 127.0.0.1 with ephemeral ports. Each object owns its process: stop() ends it
// with SIGTERM and checks a clean exit; the destructor kills (SIGKILL) one still running.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "tests/support/process.h"

namespace walstream::bench {

class WalstreamPrimary {
 public:
  // Starts `BINARY primary --http 127.0.0.1:0 [extraFlags] DB` and waits (bounded) until it
  // listens and its capture has started a generation, so a replica can bootstrap at once.
  // `launcher` comes before the binary on the command line (e.g. `prlimit --nofile=N:N --`).
  WalstreamPrimary(const std::string& binary, const std::string& db, const std::string& logPrefix,
                   std::vector<std::string> extraFlags = {},
                   std::vector<std::string> launcher = {});

  pid_t pid() const { return process_.pid(); }
  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // The last published position of the (single) database, from GET /status.
  std::string publishedPos();
  // Waits (bounded) until the published position stays the same for `quiet`: with the writer
  // stopped, capture has copied everything there is. Returns the seconds from the call until
  // the position last changed (0 if it never did).
  double waitUntilCaptureIdle(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout);
  // Throws walstream::Error naming its exit status (128 + signal when killed) and the end of its
  // log when the process is no longer running: a crash shows as such, not as a refused
  // connection later. `during` says what was going on.
  void expectRunning(const std::string& during);
  // With --backup: the end of what the store holds, from GET /status ("" until known).
  std::string backupPos();
  // With --backup: waits (bounded) until the store holds everything published: the backup's
  // position (GET /status) is known and equals the published one. Right after start that is
  // once the first snapshot is written; after the writer stopped (and waitUntilCaptureIdle),
  // once the last WAL object is. Returns the seconds it waited.
  double waitUntilBackedUp(std::chrono::milliseconds timeout);
  void stop();

 private:
  test::Process process_;
  uint16_t port_ = 0;
};

class WalstreamReplica {
 public:
  // Starts `BINARY replica --upstream URL [--http 127.0.0.1:0] [extraFlags] LOCAL_DB`; does not
  // wait.
  WalstreamReplica(const std::string& binary, const std::string& upstreamUrl,
                   const std::string& localDb, const std::string& logPrefix, bool serveStatus,
                   std::vector<std::string> extraFlags = {});

  pid_t pid() const { return process_.pid(); }
  const std::string& localDb() const { return localDb_; }
  // Waits (bounded) until the replica logged that a snapshot was applied.
  void waitUntilBootstrapped(std::chrono::milliseconds timeout);
  bool stderrContains(const std::string& text) const;
  // With serveStatus: the replica's GET /status JSON text, and the port of its --http.
  std::string status();
  uint16_t statusPort() const { return statusPort_.value(); }
  // With --serve-stream: the URL it serves downstream replicas on, once logged (bounded).
  std::string servedStreamUrl(std::chrono::milliseconds timeout);
  void stop();

 private:
  test::Process process_;
  std::string localDb_;
  std::optional<uint16_t> statusPort_;
};

}  // namespace walstream::bench
