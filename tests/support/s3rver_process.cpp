#include "tests/support/s3rver_process.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <thread>
#include <vector>

#include "core/error.h"

namespace walstream::test {

namespace {

// Where `make deps` installs s3rver, and node (CMake finds both: tests/CMakeLists.txt).
const std::string kS3rverScript =
    std::string(WALSTREAM_S3RVER_DIR) + "/node_modules/s3rver/bin/s3rver.js";
const std::string kNode = WALSTREAM_NODE;

constexpr std::string_view kListening = "S3rver listening on ";

}  // namespace

std::string s3rverInstallProblem() {
  if (kNode.empty() || ::access(kNode.c_str(), X_OK) != 0 ||
      ::access(kS3rverScript.c_str(), R_OK) != 0) {
    return "the S3 test server is not installed (" + kS3rverScript + ", node '" + kNode +
           "'): run `make deps`, then cmake again";
  }
  return {};
}

std::string s3rverStoreUrl(const std::string& bucket, const std::string& prefix,
                           const std::string& endpoint) {
  return "s3://" + bucket + (prefix.empty() ? "" : "/" + prefix) + "?endpoint=" + endpoint +
         "&region=" + S3rverProcess::kRegion + "&force-path-style=true";
}

void writeS3rverCredentials(const std::string& path) {
  std::ofstream out(path);
  out << "[default]\naws_access_key_id = " << S3rverProcess::kAccessKeyId
      << "\naws_secret_access_key = " << S3rverProcess::kSecretAccessKey << "\n";
  if (!out.flush()) throw Error("cannot write " + path);
}

S3rverProcess::S3rverProcess(const Options& options) {
  if (const std::string problem = s3rverInstallProblem(); !problem.empty()) throw Error(problem);
  std::vector<std::string> argv{kNode, "--openssl-legacy-provider", kS3rverScript};
  // s3rver drops the first 16 characters of each of koa-logger's request lines, which is its
  // colored "  -->" prefix: without colors the method and path would go instead.
  if (options.logRequests) argv.insert(argv.begin(), {"/usr/bin/env", "FORCE_COLOR=1"});
  if (!options.logRequests) argv.push_back("--silent");
  for (const std::string& arg :
       {std::string("--directory"), options.dataDir, std::string("--address"),
        std::string("127.0.0.1"), std::string("--port"), std::to_string(options.port),
        std::string("--configure-bucket"), options.bucket}) {
    argv.push_back(arg);
  }
  process_ = std::make_unique<Process>(std::move(argv), options.logPrefix);
  // It prints "S3rver listening on 127.0.0.1:PORT" once it accepts connections.
  const auto deadline = std::chrono::steady_clock::now() + options.startTimeout;
  for (;;) {
    const std::string out = process_->stdoutText();
    const size_t at = out.find(kListening);
    const size_t colon = at == std::string::npos ? at : out.find(':', at + kListening.size());
    if (colon != std::string::npos && out.find('\n', colon) != std::string::npos) {
      port_ = static_cast<uint16_t>(std::atoi(out.c_str() + colon + 1));
      if (port_ == 0) throw Error("s3rver printed no port: " + out);
      return;
    }
    if (!process_->running() || std::chrono::steady_clock::now() > deadline) {
      throw Error("s3rver did not start: " + out + process_->stderrText());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // polling its output
  }
}

S3rverProcess::~S3rverProcess() = default;  // Process kills and reaps

size_t S3rverProcess::requestCount(const std::string& method) const {
  // "info: ESC[1mMETHODESC[22m ESC[90m/PATHESC[39m STATUS...": the method in bold.
  return process_ ? countOf(process_->stdoutText(), "\x1b[1m" + method + "\x1b[22m ") : 0;
}

void S3rverProcess::kill() {
  if (!process_) return;
  process_->signal(SIGKILL);
  process_->wait(std::chrono::seconds(10));
  process_.reset();
}

}  // namespace walstream::test
