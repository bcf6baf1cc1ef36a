#include "bench/walstream_process.h"

#include <signal.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <thread>

#include "bench/http_get.h"
#include "core/error.h"

namespace walstream::bench {

using namespace std::chrono_literals;

namespace {

uint16_t waitForListeningPort(test::Process& process, const std::string& what) {
  const std::string log = process.waitForStderr("listening on http://", 30s);
  std::smatch m;
  if (!std::regex_search(log, m, std::regex("listening on http://127\\.0\\.0\\.1:([0-9]+)"))) {
    throw Error(what + " did not start listening within 30 s: " + process.stderrText());
  }
  return static_cast<uint16_t>(std::stoi(m[1]));
}

void stopCleanly(test::Process& process, const std::string& what) {
  process.signal(SIGTERM);
  const auto code = process.wait(30s);
  if (!code) throw Error(what + " did not stop within 30 s of SIGTERM");
  if (*code != 0) {
    throw Error(what + " exited with " + std::to_string(*code) + ": " + process.stderrText());
  }
}

}  // namespace

WalstreamPrimary::WalstreamPrimary(const std::string& binary, const std::string& db,
                                   const std::string& logPrefix,
                                   std::vector<std::string> extraFlags,
                                   std::vector<std::string> launcher)
    : process_(
          [&] {
            std::vector<std::string> argv = std::move(launcher);
            argv.push_back(binary);
            for (const char* arg : {"primary", "--http", "127.0.0.1:0"}) argv.emplace_back(arg);
            argv.insert(argv.end(), extraFlags.begin(), extraFlags.end());
            argv.push_back(db);
            return argv;
          }(),
          logPrefix) {
  port_ = waitForListeningPort(process_, "walstream primary");
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  for (;;) {
    const auto status = nlohmann::json::parse(httpGet(port_, "/status", 5s));
    const auto& dbs = status.at("databases");
    if (!dbs.empty() && dbs[0].at("healthy").get<bool>() &&
        !dbs[0].at("generation").get<std::string>().empty()) {
      return;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      throw Error("walstream primary has no generation after 30 s: " + status.dump());
    }
    std::this_thread::sleep_for(10ms);
  }
}

std::string WalstreamPrimary::publishedPos() {
  const auto status = nlohmann::json::parse(httpGet(port_, "/status", 5s));
  return status.at("databases").at(0).at("pos").get<std::string>();
}

double WalstreamPrimary::waitUntilCaptureIdle(std::chrono::milliseconds quiet,
                                              std::chrono::milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + timeout;
  std::string pos = publishedPos();
  auto since = start;
  for (;;) {
    std::this_thread::sleep_for(quiet / 10);
    const auto now = std::chrono::steady_clock::now();
    const std::string current = publishedPos();
    if (current != pos) {
      pos = current;
      since = now;
    } else if (now - since >= quiet) {
      return std::chrono::duration<double>(since - start).count();
    }
    if (now > deadline) throw Error("walstream primary kept publishing (now at " + pos + ")");
  }
}

namespace {

const nlohmann::json& backupStatus(const nlohmann::json& database) {
  if (!database.contains("backup")) throw Error("walstream primary runs without --backup");
  return database.at("backup");
}

}  // namespace

void WalstreamPrimary::expectRunning(const std::string& during) {
  const auto code = process_.wait(0ms);
  if (!code) return;
  // The last lines of its log (a crash leaves no line of its own).
  constexpr int kLogLines = 3;
  std::string log = process_.stderrText();
  while (!log.empty() && log.back() == '\n') log.pop_back();
  size_t from = log.size();
  for (int newlines = 0; from > 0;) {
    if (log[--from] == '\n' && ++newlines == kLogLines) {
      ++from;
      break;
    }
  }
  throw Error("walstream primary exited with " + std::to_string(*code) + " during " + during +
              "; the end of its log:\n" + log.substr(from));
}

std::string WalstreamPrimary::backupPos() {
  const auto status = nlohmann::json::parse(httpGet(port_, "/status", 5s));
  return backupStatus(status.at("databases").at(0)).at("pos").get<std::string>();
}

double WalstreamPrimary::waitUntilBackedUp(std::chrono::milliseconds timeout) {
  const auto start = std::chrono::steady_clock::now();
  for (;;) {
    expectRunning("the wait for its backup");
    const auto status = nlohmann::json::parse(httpGet(port_, "/status", 5s));
    const auto& db = status.at("databases").at(0);
    const std::string backedUp = backupStatus(db).at("pos").get<std::string>();
    if (!backedUp.empty() && backedUp == db.at("pos").get<std::string>()) {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
    if (std::chrono::steady_clock::now() - start > timeout) {
      throw Error("walstream primary's backup did not reach its published position within " +
                  std::to_string(timeout.count()) + " ms: " + db.dump());
    }
    std::this_thread::sleep_for(10ms);
  }
}

void WalstreamPrimary::stop() {
  stopCleanly(process_, "walstream primary");
}

WalstreamReplica::WalstreamReplica(const std::string& binary, const std::string& upstreamUrl,
                                   const std::string& localDb, const std::string& logPrefix,
                                   bool serveStatus, std::vector<std::string> extraFlags)
    : process_(
          [&] {
            std::vector<std::string> argv = {binary, "replica", "--upstream", upstreamUrl};
            if (serveStatus) {
              argv.push_back("--http");
              argv.push_back("127.0.0.1:0");
            }
            argv.insert(argv.end(), extraFlags.begin(), extraFlags.end());
            argv.push_back(localDb);
            return argv;
          }(),
          logPrefix),
      localDb_(localDb) {
  if (serveStatus) statusPort_ = waitForListeningPort(process_, "walstream replica");
}

void WalstreamReplica::waitUntilBootstrapped(std::chrono::milliseconds timeout) {
  if (process_.waitForStderr("snapshot applied at", timeout).empty()) {
    throw Error("walstream replica " + localDb_ + " applied no snapshot within " +
                std::to_string(timeout.count()) + " ms: " + process_.stderrText());
  }
}

std::string WalstreamReplica::servedStreamUrl(std::chrono::milliseconds timeout) {
  const std::string log = process_.waitForStderr("serving the stream of", timeout);
  const size_t at = log.find("http://", log.find("serving the stream of"));
  if (log.empty() || at == std::string::npos) {
    throw Error("walstream replica " + localDb_ + " serves no stream: " + process_.stderrText());
  }
  return log.substr(at, log.find(' ', at) - at);
}

bool WalstreamReplica::stderrContains(const std::string& text) const {
  return process_.stderrText().find(text) != std::string::npos;
}

std::string WalstreamReplica::status() {
  if (!statusPort_) throw Error("walstream replica " + localDb_ + " serves no /status");
  return httpGet(*statusPort_, "/status", 5s);
}

void WalstreamReplica::stop() {
  stopCleanly(process_, "walstream replica " + localDb_);
}

}  // namespace walstream::bench
